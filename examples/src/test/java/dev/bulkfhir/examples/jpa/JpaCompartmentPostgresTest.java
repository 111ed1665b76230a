package dev.bulkfhir.examples.jpa;

/** {@link JpaCompartmentTest} with the HAPI JPA host on PostgreSQL: HAPI's reference index read there. */
class JpaCompartmentPostgresTest extends JpaCompartmentTest {

    @Override
    JpaHost newHost() {
        return JpaHost.onPostgres();
    }
}
