package dev.bulkfhir.examples.jpa;

import ca.uhn.fhir.batch2.api.IJobCoordinator;
import ca.uhn.fhir.batch2.api.IJobMaintenanceService;
import ca.uhn.fhir.batch2.model.JobInstance;
import ca.uhn.fhir.batch2.model.JobInstanceStartRequest;
import ca.uhn.fhir.batch2.model.StatusEnum;
import ca.uhn.fhir.jpa.api.model.BulkExportJobResults;
import ca.uhn.fhir.rest.api.server.SystemRequestDetails;
import ca.uhn.fhir.rest.api.server.bulk.BulkExportJobParameters;
import ca.uhn.fhir.util.Batch2JobDefinitionConstants;
import ca.uhn.fhir.util.JsonUtil;
import org.hl7.fhir.r4.model.Binary;
import org.hl7.fhir.r4.model.IdType;

import java.util.List;

/**
 * HAPI JPA's own bulk export (its Batch2 {@code BULK_EXPORT} job) run to the end in a {@link JpaHost}, whose
 * scheduler is off: the job's maintenance passes are driven from here, as HAPI's own tests drive them.
 */
final class HapiBulkExport {

    private final JpaHost host;
    private final IJobCoordinator jobs;
    private final IJobMaintenanceService maintenance;

    HapiBulkExport(JpaHost host) {
        this.host = host;
        this.jobs = host.spring().getBean(IJobCoordinator.class);
        this.maintenance = host.spring().getBean(IJobMaintenanceService.class);
    }

    /** Exports Patient and Observation (of a Group, if given), waits for the end; the resources written. */
    long export(BulkExportJobParameters.ExportStyle style, String groupId) throws InterruptedException {
        BulkExportJobParameters parameters = new BulkExportJobParameters();
        parameters.setResourceTypes(List.of("Patient", "Observation"));
        parameters.setExportStyle(style);
        parameters.setOutputFormat("application/fhir+ndjson");
        if (groupId != null) parameters.setGroupId(groupId);
        JobInstanceStartRequest start = new JobInstanceStartRequest();
        start.setJobDefinitionId(Batch2JobDefinitionConstants.BULK_EXPORT);
        start.setParameters(parameters);
        start.setUseCache(false);
        String id = jobs.startInstance(new SystemRequestDetails(), start).getInstanceId();
        JobInstance instance;
        do {
            Thread.sleep(50);
            maintenance.forceMaintenancePass();
            instance = jobs.getInstance(id);
        } while (!instance.getStatus().isEnded());
        if (instance.getStatus() != StatusEnum.COMPLETED) {
            throw new IllegalStateException("HAPI's bulk export ended " + instance.getStatus() + ": " + instance.getErrorMessage());
        }
        long resources = 0;
        BulkExportJobResults results = JsonUtil.deserialize(instance.getReport(), BulkExportJobResults.class);
        for (List<String> binaries : results.getResourceTypeToBinaryIds().values()) {
            for (String binaryId : binaries) {
                Binary binary = host.daos().getResourceDao(Binary.class).read(new IdType(binaryId), new SystemRequestDetails());
                for (byte b : binary.getContent()) if (b == '\n') resources++;
            }
        }
        return resources;
    }
}
