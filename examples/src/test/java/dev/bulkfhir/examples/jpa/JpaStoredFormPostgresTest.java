package dev.bulkfhir.examples.jpa;

/**
 * {@link JpaStoredFormTest} with the HAPI JPA host on PostgreSQL, where Hibernate keeps HAPI's
 * {@code RES_TEXT} (the compressed text) as a large object ({@code oid}) and {@code RES_TEXT_VC} as
 * {@code text}: the exported lines still equal HAPI's own read, and are still its stored text.
 */
class JpaStoredFormPostgresTest extends JpaStoredFormTest {

    @Override
    JpaHost newHost() {
        return JpaHost.onPostgres();
    }
}
