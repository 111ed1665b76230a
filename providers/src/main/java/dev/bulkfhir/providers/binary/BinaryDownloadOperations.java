package dev.bulkfhir.providers.binary;

import ca.uhn.fhir.rest.annotation.IdParam;
import ca.uhn.fhir.rest.annotation.Operation;
import ca.uhn.fhir.rest.annotation.OperationParam;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import dev.bulkfhir.storage.binary.BinaryDocument;
import dev.bulkfhir.storage.binary.BinarySource;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.hl7.fhir.r4.model.Binary;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.StringType;

import java.io.IOException;

/**
 * {@code GET Binary/[id]/$binary-access-read} and {@code GET Binary/[id]/$export-download}: always
 * the raw content as a file, whatever Accept or _format say, with the same validators, HEAD and
 * Range support as native reads. Both look ids up in the same Binary id space, so stored
 * Binaries and export files are served alike.
 */
public final class BinaryDownloadOperations {

    private final BinarySource source;
    private final BinaryReads reads;

    BinaryDownloadOperations(BinarySource source, BinaryReads reads) {
        this.source = source;
        this.reads = reads;
    }

    @Operation(name = "$binary-access-read", type = Binary.class, idempotent = true, manualResponse = true)
    public void binaryAccessRead(
            @IdParam IdType id,
            @OperationParam(name = "path", min = 0, max = 1) StringType path,
            RequestDetails details,
            HttpServletRequest request,
            HttpServletResponse response) throws IOException {
        if (path != null && path.hasValue() && !path.getValue().equals("Binary.data")) {
            throw new InvalidRequestException("path=" + path.getValue() + " is not supported: a Binary's content is at"
                    + " Binary.data (the default).");
        }
        download(id, details, request, response);
    }

    @Operation(name = "$export-download", type = Binary.class, idempotent = true, manualResponse = true)
    public void exportDownload(@IdParam IdType id, RequestDetails details, HttpServletRequest request,
            HttpServletResponse response) throws IOException {
        download(id, details, request, response);
    }

    private void download(IdType id, RequestDetails details, HttpServletRequest request, HttpServletResponse response)
            throws IOException {
        BinaryDocument document = BinarySources.lookup(source, id.getIdPart(), null);
        NativeContent.send(details, document, NativeContent.Disposition.ATTACHMENT, request, response);
        reads.served(details, document, "native");
    }
}
