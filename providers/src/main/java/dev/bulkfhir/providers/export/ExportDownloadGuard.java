package dev.bulkfhir.providers.export;

import ca.uhn.fhir.interceptor.api.Hook;
import dev.bulkfhir.providers.OperationOutcomes;
import dev.bulkfhir.providers.HookRefusals;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.IOException;
import java.util.Date;
import java.util.Optional;
import java.util.Set;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.api.RestOperationTypeEnum;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.util.DateUtils;
import dev.bulkfhir.providers.binary.BinaryInterceptor;
import dev.bulkfhir.storage.export.ExportFileStore;
import dev.bulkfhir.storage.export.ExportJob;
import dev.bulkfhir.storage.export.ExportJobRepository;
import dev.bulkfhir.storage.export.ExportState;
import org.hl7.fhir.instance.model.api.IIdType;

/**
 * Export files are served by the Binary endpoint, which knows nothing of owners: this hook, which
 * runs before the Binary interceptor streams anything, answers 404 (exactly as for an unknown Binary,
 * revealing nothing) to a read of an id in the export-file space that is not a file of the client's
 * own jobs: another client's, or none at all. The bearer interceptor lets such reads past the Binary
 * scope check for that reason. It covers every form: read, vread, {@code $binary-access-read} and
 * {@code $export-download}.
 */
final class ExportDownloadGuard {

    /** The ways to read an export file; writes to its id space are refused elsewhere. */
    private static final Set<RestOperationTypeEnum> READS = Set.of(RestOperationTypeEnum.READ,
            RestOperationTypeEnum.VREAD, RestOperationTypeEnum.EXTENDED_OPERATION_INSTANCE);

    /** Before the Binary interceptor, after authorization hooks (default order 0). */
    static final int ORDER = BinaryInterceptor.ORDER - 100;

    private final ExportJobRepository jobs;
    private final ClientIdentity identity;

    ExportDownloadGuard(ExportJobRepository jobs, ClientIdentity identity) {
        this.jobs = jobs;
        this.identity = identity;
    }

    @Hook(value = Pointcut.SERVER_INCOMING_REQUEST_POST_PROCESSED, order = ORDER)
    public boolean guard(RequestDetails request, HttpServletRequest servletRequest,
            HttpServletResponse servletResponse) throws IOException {
        if (!"Binary".equals(request.getResourceName())) {
            return true;
        }
        IIdType id = request.getId();
        if (id == null || !ExportFileStore.isFileId(id.getIdPart()) || !READS.contains(request.getRestOperationType())) {
            return true;
        }
        String owner = identity.of(request).id();
        // No such file and another client's file get the same answer, so that ids cannot be probed;
        // and no Binary of the host's in the reserved id space is read past the scope check.
        Optional<ExportJob> job = jobs.findFile(id.getIdPart()).map(ExportJobRepository.OwnedFile::job)
                .filter(owned -> owned.ownerId().equals(owner));
        if (job.isEmpty()) {
            HookRefusals.answer(OperationOutcomes.notFound("Could not locate this Binary."), request,
                    servletRequest, servletResponse);
            return false;
        }
        // Like the manifest: until when the file can be had.
        if (job.get().state() == ExportState.COMPLETED && job.get().expiresAt() != null) {
            servletResponse.setHeader("Expires", DateUtils.formatDate(Date.from(job.get().expiresAt())));
        }
        return true;
    }
}
