package dev.bulkfhir.providers.binary;

import ca.uhn.fhir.rest.api.RequestTypeEnum;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import dev.bulkfhir.providers.audit.AuditAction;
import dev.bulkfhir.providers.audit.AuditRecord;
import dev.bulkfhir.providers.audit.AuditSink;
import dev.bulkfhir.providers.auth.ClientAccess;
import dev.bulkfhir.storage.binary.BinaryDocument;
import dev.bulkfhir.storage.binary.BinarySource;

/**
 * Records each Binary served in the audit trail: a read-only Binary (an export file) as a file
 * download, any other as a Binary read, native or wrapped.
 */
final class BinaryReads {

    private final BinarySource source;
    private final AuditSink audit;

    BinaryReads(BinarySource source, AuditSink audit) {
        this.source = source;
        this.audit = audit;
    }

    void served(RequestDetails request, BinaryDocument document, String form) {
        if (request.getRequestType() == RequestTypeEnum.HEAD || document.deleted()) {
            return; // nothing was handed over
        }
        boolean file = source.isReadOnly(document.id());
        audit.record(AuditRecord.now(file ? AuditAction.FILE_DOWNLOAD : AuditAction.BINARY_READ,
                200, ClientAccess.from(request).clientId(),
                "Binary/" + document.id(), file ? null : form, 0,
                document.content() == null ? 0 : document.content().size()));
    }
}
