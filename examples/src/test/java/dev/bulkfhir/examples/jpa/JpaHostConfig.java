package dev.bulkfhir.examples.jpa;

import ca.uhn.fhir.batch2.jobs.config.Batch2JobsConfig;
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.config.ThreadPoolFactoryConfig;
import ca.uhn.fhir.jpa.batch2.JpaBatch2Config;
import ca.uhn.fhir.jpa.binary.api.IBinaryStorageSvc;
import ca.uhn.fhir.jpa.binstore.DatabaseBinaryContentStorageSvcImpl;
import ca.uhn.fhir.jpa.config.HapiJpaConfig;
import ca.uhn.fhir.jpa.config.r4.JpaR4Config;
import ca.uhn.fhir.jpa.config.util.HapiEntityManagerFactoryUtil;
import ca.uhn.fhir.jpa.model.config.PartitionSettings;
import ca.uhn.fhir.jpa.model.dialect.HapiFhirH2Dialect;
import ca.uhn.fhir.jpa.model.dialect.HapiFhirPostgresDialect;
import ca.uhn.fhir.jpa.subscription.channel.config.SubscriptionChannelConfig;
import com.zaxxer.hikari.HikariDataSource;
import jakarta.persistence.EntityManagerFactory;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.orm.jpa.JpaTransactionManager;
import org.springframework.orm.jpa.LocalContainerEntityManagerFactoryBean;

import java.util.Properties;

/**
 * HAPI's own JPA R4 configuration on H2 or PostgreSQL (HAPI's dialect for each), the least a HAPI JPA server needs to run: no full-text
 * indexing (Hibernate Search off), no scheduled jobs (so no bulk export, reindexing or stale-search
 * cleanup runs), no subscriptions and no validation. Batch2 (which HAPI's DAOs depend on) needs the
 * in-memory message channels of {@link SubscriptionChannelConfig}, not subscriptions themselves.
 */
@Configuration
@Import({JpaR4Config.class, HapiJpaConfig.class, JpaBatch2Config.class, Batch2JobsConfig.class,
        SubscriptionChannelConfig.class, ThreadPoolFactoryConfig.class})
class JpaHostConfig {

    /** Binary content at least this big goes to the binary storage table rather than into the resource. */
    static final int EXTERNALIZED_BINARY_MINIMUM = 64 * 1024;

    @Bean
    JpaStorageSettings storageSettings() {
        JpaStorageSettings settings = new JpaStorageSettings();
        settings.setSchedulingDisabled(true);
        settings.setEnableTaskBulkExportJobExecution(false);
        settings.setEnableTaskBulkImportJobExecution(false);
        settings.setEnableTaskResourceReindexing(false);
        settings.setEnableTaskPreExpandValueSets(false);
        settings.setEnableTaskStaleSearchCleanup(false);
        settings.setHibernateSearchIndexSearchParams(false);
        settings.setAdvancedHSearchIndexing(false);
        settings.setAllowMultipleDelete(true);
        return settings;
    }

    @Bean
    PartitionSettings partitionSettings(JpaHost.Settings settings) {
        PartitionSettings partitions = new PartitionSettings();
        partitions.setPartitioningEnabled(settings.partitioned());
        return partitions;
    }

    @Bean(destroyMethod = "close")
    HikariDataSource dataSource(JpaHost.Settings settings) {
        HikariDataSource dataSource = new HikariDataSource();
        dataSource.setJdbcUrl(settings.jdbcUrl());
        dataSource.setUsername(settings.user());
        dataSource.setPassword("");
        dataSource.setMaximumPoolSize(10);
        return dataSource;
    }

    @Bean
    LocalContainerEntityManagerFactoryBean entityManagerFactory(ConfigurableListableBeanFactory beans,
            FhirContext fhirContext, JpaStorageSettings storageSettings, HikariDataSource dataSource,
            JpaHost.Settings settings) {
        LocalContainerEntityManagerFactoryBean factory =
                HapiEntityManagerFactoryUtil.newEntityManagerFactory(beans, fhirContext, storageSettings);
        factory.setPersistenceUnitName("HAPI_JPA_HOST");
        factory.setDataSource(dataSource);
        Properties properties = new Properties();
        properties.put("hibernate.dialect",
                (settings.postgres() ? HapiFhirPostgresDialect.class : HapiFhirH2Dialect.class).getName());
        properties.put("hibernate.hbm2ddl.auto", "update");
        properties.put("hibernate.search.enabled", "false");
        properties.put("hibernate.format_sql", "false");
        properties.put("hibernate.show_sql", "false");
        properties.put("hibernate.jdbc.batch_size", "50");
        factory.setJpaProperties(properties);
        return factory;
    }

    @Bean
    JpaTransactionManager transactionManager(EntityManagerFactory entityManagerFactory) {
        return new JpaTransactionManager(entityManagerFactory);
    }

    /** As most HAPI JPA servers run: large Binary content in its own table, small content inline. */
    @Bean
    IBinaryStorageSvc binaryStorage() {
        DatabaseBinaryContentStorageSvcImpl storage = new DatabaseBinaryContentStorageSvcImpl();
        storage.setMinimumBinarySize(EXTERNALIZED_BINARY_MINIMUM);
        return storage;
    }
}
