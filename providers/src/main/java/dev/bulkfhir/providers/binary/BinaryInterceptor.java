package dev.bulkfhir.providers.binary;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.interceptor.api.Hook;
import ca.uhn.fhir.interceptor.api.Pointcut;
import ca.uhn.fhir.rest.api.Constants;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.api.PreferReturnEnum;
import ca.uhn.fhir.rest.api.RequestTypeEnum;
import ca.uhn.fhir.rest.api.RestOperationTypeEnum;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.server.RestfulServerUtils;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.server.exceptions.PayloadTooLargeException;
import dev.bulkfhir.providers.OperationOutcomes;
import dev.bulkfhir.providers.RequestSideChannels;
import dev.bulkfhir.providers.HookRefusals;
import dev.bulkfhir.storage.binary.BinaryDocument;
import dev.bulkfhir.storage.binary.BinarySource;
import dev.bulkfhir.storage.binary.BinaryStore;
import dev.bulkfhir.storage.binary.StagedContent;
import dev.bulkfhir.storage.resource.ResourceStore;
import dev.bulkfhir.storage.resource.StoredResource;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.hl7.fhir.instance.model.api.IBaseOperationOutcome;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Binary;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.Reference;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Set;
import java.util.zip.GZIPInputStream;

/**
 * The parts of the Binary endpoint that HAPI's method bindings cannot do, hooked in after HAPI
 * has chosen the operation (so that authorization hooks with a lower order run first):
 *
 * <ul>
 *   <li>native reads: the content is streamed from the store with its own headers, instead of
 *       HAPI writing {@code Binary.getContent()} from memory;</li>
 *   <li>raw uploads (a body whose Content-Type is not FHIR JSON or XML): streamed into the store,
 *       instead of HAPI reading the whole body into memory;</li>
 *   <li>FHIR-format uploads: refused with 413 above the wrapped-content cap, before HAPI reads them;</li>
 *   <li>an unsupported {@code _format}: 406 instead of being silently ignored;</li>
 *   <li>HEAD on the download operations, which HAPI routes only to reads.</li>
 * </ul>
 */
public final class BinaryInterceptor {

    /** After authorization and other request checks registered with the default order (0). */
    public static final int ORDER = 1000;

    private static final Set<String> DOWNLOAD_OPERATIONS = Set.of("$binary-access-read", "$export-download");
    /** base64 costs 4 bytes per 3; the rest is room for the JSON or XML around it. */
    private static final long ENVELOPE_ALLOWANCE = 1024 * 1024;

    private final FhirContext context;
    private final ResourceStore store;
    private final BinarySource source;
    private final BinaryAccessSettings settings;
    private final BinaryReads reads;

    /** @param store where uploads go; null when the host's own Binary provider takes them */
    BinaryInterceptor(FhirContext context, ResourceStore store, BinarySource source, BinaryAccessSettings settings,
            BinaryReads reads) {
        this.reads = reads;
        this.context = context;
        this.store = store;
        this.source = source;
        this.settings = settings;
    }

    @Hook(Pointcut.SERVER_INCOMING_REQUEST_PRE_HANDLER_SELECTED)
    public boolean routeHead(RequestDetails request) {
        if (request.getRequestType() == RequestTypeEnum.HEAD && "Binary".equals(request.getResourceName())
                && request.getOperation() != null && DOWNLOAD_OPERATIONS.contains(request.getOperation())) {
            // The operations answer HEAD themselves (no body); HAPI would otherwise find no method.
            request.setRequestType(RequestTypeEnum.GET);
        }
        return true;
    }

    @Hook(value = Pointcut.SERVER_INCOMING_REQUEST_POST_PROCESSED, order = ORDER)
    public boolean handle(RequestDetails request, HttpServletRequest servletRequest,
            HttpServletResponse servletResponse) throws IOException {
        if (!"Binary".equals(request.getResourceName()) || request.getRestOperationType() == null) {
            return true;
        }
        RestOperationTypeEnum operation = request.getRestOperationType();
        try {
            switch (operation) {
                case READ, VREAD -> {
                    return read(request, servletRequest, servletResponse);
                }
                case CREATE, UPDATE -> {
                    if (store == null) {
                        return true;
                    }
                    ReadRule.requireResourceFormat(request);
                    return upload(request, servletRequest, operation == RestOperationTypeEnum.CREATE);
                }
                case EXTENDED_OPERATION_INSTANCE, EXTENDED_OPERATION_TYPE -> {
                    return true; // the download operations always send content, whatever _format says
                }
                default -> {
                    ReadRule.requireResourceFormat(request);
                    return true;
                }
            }
        } catch (BaseServerResponseException e) {
            HookRefusals.answer(e, request, servletRequest, servletResponse);
            return false;
        }
    }

    /**
     * An error on a Binary for a client that accepts NDJSON (as Bulk Data clients do when they download):
     * HAPI would write the OperationOutcome as XML labelled NDJSON; it is written as FHIR JSON instead.
     */
    @Hook(Pointcut.SERVER_HANDLE_EXCEPTION)
    public boolean errorAsJson(RequestDetails request, HttpServletResponse servletResponse,
            BaseServerResponseException error) throws IOException {
        String accept = request.getHeader(Constants.HEADER_ACCEPT);
        if (!"Binary".equals(request.getResourceName()) || request.getParameters().containsKey(Constants.PARAM_FORMAT)
                || accept == null || !accept.toLowerCase(Locale.ROOT).contains("ndjson")
                || servletResponse.isCommitted()) {
            return true;
        }
        IBaseOperationOutcome outcome = error.getOperationOutcome();
        if (outcome == null) {
            outcome = OperationOutcomes.error("processing", error.getMessage());
        }
        byte[] body = context.newJsonParser().encodeResourceToString(outcome).getBytes(StandardCharsets.UTF_8);
        servletResponse.resetBuffer();
        servletResponse.setStatus(error.getStatusCode());
        if (error.hasResponseHeaders()) {
            error.getResponseHeaders().forEach((name, values) -> values.forEach(v -> servletResponse.setHeader(name, v)));
        }
        servletResponse.setContentType(Constants.CT_FHIR_JSON_NEW + ";charset=utf-8");
        servletResponse.setContentLength(body.length);
        servletResponse.getOutputStream().write(body);
        return false;
    }

    private boolean read(RequestDetails request, HttpServletRequest servletRequest,
            HttpServletResponse servletResponse) throws IOException {
        IdType id = new IdType(request.getId().getValue());
        BinaryDocument document = BinarySources.lookup(source, id.getIdPart(),
                request.getRestOperationType() == RestOperationTypeEnum.VREAD ? id.getVersionIdPart() : null);
        if (ReadRule.decide(request, document.contentType()) == ReadRule.Form.WRAPPED) {
            if (WrappedJson.applies(request, document, settings.maxWrappedContent())) {
                WrappedJson.send(request, document, servletResponse);
                reads.served(request, document, "wrapped");
                return false;
            }
            RequestSideChannels.keepBinary(request, document);
            reads.served(request, document, "wrapped"); // HAPI's provider method writes it next
            return true;
        }
        NativeContent.send(request, document, NativeContent.Disposition.INLINE_IF_PASSIVE, servletRequest,
                servletResponse);
        reads.served(request, document, "native");
        return false;
    }

    private boolean upload(RequestDetails request, HttpServletRequest servletRequest, boolean create)
            throws IOException {
        String contentType = servletRequest.getContentType();
        EncodingEnum encoding = contentType == null ? null : EncodingEnum.forContentTypeStrict(contentType);
        if (encoding == EncodingEnum.JSON || encoding == EncodingEnum.XML) {
            limitResourceBody(request, servletRequest);
            return true;
        }
        String id = null;
        if (!create) {
            id = request.getId() == null ? null : request.getId().getIdPart();
            if (!ResourceStore.isValidId(id)) {
                throw new InvalidRequestException("PUT needs a url of the form Binary/[id], where the id is 1 to 64"
                        + " letters, digits, '-' or '.'; got '" + (id == null ? "" : id) + "'.");
            }
            BinaryWrites.requireWritable(source, id);
        }
        String rawType = contentType == null || contentType.isBlank() ? Constants.CT_OCTET_STREAM : contentType.trim();
        String mediaType = ReadRule.mediaType(rawType);
        if (mediaType.equals("application/x-www-form-urlencoded") || mediaType.startsWith("multipart/")) {
            throw OperationOutcomes.status(415, "not-supported", "A form post is not Binary content: send the"
                    + " file itself as the body, with its own Content-Type (e.g. application/pdf).");
        }
        if (!BinaryStore.isValidContentType(rawType)) {
            throw new InvalidRequestException("Content-Type '" + rawType + "' is not a media type this server can"
                    + " store as Binary.contentType (type/subtype, at most 255 characters).");
        }
        String encodingHeader = servletRequest.getHeader(Constants.HEADER_CONTENT_ENCODING);
        if (encodingHeader != null && !encodingHeader.isBlank() && !encodingHeader.trim().equalsIgnoreCase("identity")) {
            throw OperationOutcomes.status(415, "not-supported", "Content-Encoding " + encodingHeader
                    + " is not supported for raw Binary uploads: send the content as it is.");
        }
        String securityContext = servletRequest.getHeader(Constants.HEADER_X_SECURITY_CONTEXT);
        if (securityContext != null && (securityContext.isBlank() || securityContext.length() > 1024)) {
            throw new InvalidRequestException("X-Security-Context must be a reference such as Patient/123, of at"
                    + " most 1024 characters.");
        }
        String filename = DownloadHeaders.filenameFromRequest(
                servletRequest.getHeader(Constants.HEADER_CONTENT_DISPOSITION));

        StagedContent content;
        try (InputStream body = servletRequest.getInputStream()) {
            content = store.binaries().stage(body);
        } catch (IOException e) {
            throw new InvalidRequestException("The upload broke off before its end: " + e.getMessage());
        }
        Binary binary = new Binary();
        binary.setContentType(rawType);
        if (securityContext != null) {
            binary.setSecurityContext(new Reference(securityContext.trim()));
        }
        if (!create) {
            binary.setId("Binary/" + id);
        }
        StoredResource stored = BinaryWrites.write(content,
                () -> create ? store.create(binary, content, filename) : store.update(binary, content, filename));
        respond(request, binary, stored, create || stored.version() == 1, content.size());
        return false;
    }

    /** A FHIR Binary carries base64 in memory: refuse bodies that could exceed the wrapped cap. */
    private void limitResourceBody(RequestDetails request, HttpServletRequest servletRequest) throws IOException {
        long limit = (settings.maxWrappedContent() + 2) / 3 * 4 + ENVELOPE_ALLOWANCE;
        long declared = servletRequest.getContentLengthLong();
        if (declared > limit) {
            throw tooLargeForResourceBody(limit);
        }
        String encoding = servletRequest.getHeader(Constants.HEADER_CONTENT_ENCODING);
        InputStream body = servletRequest.getInputStream();
        if (encoding != null && encoding.trim().toLowerCase(Locale.ROOT).equals("gzip")) {
            body = new GZIPInputStream(body);
        }
        byte[] bytes;
        try {
            bytes = body.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, limit + 1));
        } catch (IOException e) {
            throw new InvalidRequestException("The request body could not be read: " + e.getMessage());
        }
        if (bytes.length > limit) {
            throw tooLargeForResourceBody(limit);
        }
        // HAPI parses from these bytes instead of reading the stream again.
        request.setRequestContents(bytes);
    }

    private PayloadTooLargeException tooLargeForResourceBody(long limit) {
        String message = "A FHIR-format Binary may carry at most " + settings.maxWrappedContent()
                + " bytes of content (a body of at most " + limit + " bytes). Send larger content raw: the"
                + " bytes as the body, with the document's own Content-Type (e.g. application/pdf).";
        PayloadTooLargeException error = new PayloadTooLargeException(message);
        OperationOutcomes.withOutcome(error, "too-costly");
        return error;
    }

    /** The answer to a raw upload, shaped as HAPI shapes create and update answers (Prefer, Location). */
    private void respond(RequestDetails request, Binary binary, StoredResource stored, boolean created, long size)
            throws IOException {
        IdType id = new IdType(request.getFhirServerBase(), "Binary", stored.id(), Long.toString(stored.version()));
        PreferReturnEnum prefer = RestfulServerUtils.parsePreferHeader(
                request.getHeader(Constants.HEADER_PREFER)).getReturn();
        IBaseResource body = binary;
        if (prefer == PreferReturnEnum.MINIMAL) {
            body = null;
        } else if (prefer == PreferReturnEnum.OPERATION_OUTCOME) {
            body = OperationOutcomes.of("information", "informational", (created ? "Created " : "Updated ")
                    + "Binary/" + stored.id() + " version " + stored.version() + " (" + size + " bytes).");
        }
        RestfulServerUtils.streamResponseAsResource(request.getServer(), body,
                RestfulServerUtils.determineSummaryMode(request), created ? 201 : 200, true, request.isRespondGzip(),
                request, id, binary.getMeta().getLastUpdatedElement());
    }
}
