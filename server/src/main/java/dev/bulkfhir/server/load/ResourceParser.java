package dev.bulkfhir.server.load;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.DataFormatException;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.util.FhirTerser;
import dev.bulkfhir.storage.resource.JsonNumbers;
import dev.bulkfhir.storage.resource.PatientCompartment;
import dev.bulkfhir.storage.resource.ResourceStore;
import dev.bulkfhir.storage.resource.SourceJson;
import org.hl7.fhir.instance.model.api.IBaseReference;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.instance.model.api.IIdType;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * Turns a {@link Chunk} into a {@link Batch} of HAPI resources, on one parser thread (HAPI parsers
 * are not thread-safe: each thread has its own). Checks ids; for Bundle entries, applies the id
 * the entry is stored under and rewrites {@code urn:uuid:} and conditional references.
 *
 * <p>An NDJSON line is first read by a {@link SourceJson.Reader}, which checks it as HAPI's strict parse
 * would at a fraction of the cost; only the lines it cannot vouch for are parsed by HAPI, whose
 * verdict then stands.
 */
final class ResourceParser {

    private final FhirContext context;
    private final IParser parser;
    private final StrictParseErrors errors = new StrictParseErrors();
    private final PatientCompartment compartment;
    private final SourceJson.Reader reader;
    /** References the last {@link #applyEntry} rewrote. */
    private int rewrittenReferences;
    private final FhirTerser terser;
    private final CharsetDecoder strictUtf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);

    ResourceParser(FhirContext context) {
        this.context = context;
        this.parser = context.newJsonParser().setParserErrorHandler(errors);
        this.terser = context.newTerser();
        this.compartment = new PatientCompartment(context);
        this.reader = new SourceJson.Reader(context, compartment);
    }

    Batch parse(Chunk chunk, Consumer<Rejection> rejections) {
        Batch batch = new Batch(chunk);
        for (int i = 0; i < chunk.count; i++) {
            long position = chunk.positions[i];
            int start = chunk.start(i);
            int length = chunk.ends[i] - start;
            if (chunk.links == null) {
                SourceJson read = reader.read(chunk.data, start, length);
                if (read != null && isStoredFromSource(read.resourceType())) {
                    batch.add(standIn(read.resourceType(), read.id()), read.resourceType(), read, position);
                    continue;
                }
            }
            String tooLong = JsonNumbers.findTooLong(chunk.data, start, length);
            if (tooLong != null) { // before HAPI's parser, which would spend minutes writing it out
                rejections.accept(chunk.rejection(position, tooLong));
                continue;
            }
            String json = new String(chunk.data, start, length, StandardCharsets.UTF_8);
            if (json.indexOf('\uFFFD') >= 0 && !validUtf8(chunk.data, start, length)) {
                rejections.accept(chunk.rejection(position, "Not valid UTF-8"));
                continue;
            }
            IBaseResource resource;
            try {
                errors.irregular = false;
                resource = parser.parseResource(json);
            } catch (DataFormatException e) {
                rejections.accept(chunk.rejection(position, Loader.oneLine(e.getMessage())));
                continue;
            } catch (RuntimeException e) {
                rejections.accept(chunk.rejection(position, "Could not parse: " + Loader.oneLine(e.toString())));
                continue;
            }
            String type = context.getResourceType(resource);
            String problem = chunk.links == null ? checkOwnId(resource, type) : applyEntry(chunk, i, resource, type);
            if (problem != null) {
                rejections.accept(chunk.rejection(position, problem));
                continue;
            }
            SourceJson source = source(chunk, start, length, type);
            if (source != null && isStoredFromSource(type)) {
                // The store needs no more of this resource than its type and id: drop the parsed tree
                // now rather than keep it alive while the batch waits for a writer.
                source = source.withPatients(compartment.patientIds(resource));
                IIdType id = resource.getIdElement();
                resource = standIn(type, id.isEmpty() ? null : id.getIdPart());
            }
            batch.add(resource, type, source, position);
        }
        return batch;
    }

    /**
     * Whether the store needs only the type, id and source of a resource of this type: it looks into
     * a Binary (its content) and a DocumentReference (its attachments' titles).
     */
    private static boolean isStoredFromSource(String type) {
        return !"Binary".equals(type) && !"DocumentReference".equals(type);
    }

    /** An empty resource of the type with the id (if any), to go with its source to the store. */
    private IBaseResource standIn(String type, String id) {
        IBaseResource standIn = context.getResourceDefinition(type).newInstance();
        if (id != null) {
            standIn.setId(type + "/" + id);
        }
        return standIn;
    }

    /**
     * The source JSON to store for the resource just parsed, or null where HAPI must encode the
     * resource: HAPI let an irregularity through, or the JSON says something HAPI would not write.
     */
    private SourceJson source(Chunk chunk, int start, int length, String type) {
        if (errors.irregular || "Binary".equals(type)) {
            return null;
        }
        if (chunk.links == null) {
            return SourceJson.of(context, chunk.data, start, length, null, null);
        }
        int[] rewritten = new int[1];
        SourceJson source = SourceJson.of(context, chunk.data, start, length, chunk.links::resolve, rewritten);
        // Both rewrites must agree: every reference the terser rewrote, and nothing else.
        return rewritten[0] == rewrittenReferences ? source : null;
    }

    /**
     * A resource's own id must be a valid FHIR id; none at all is fine (the store assigns one).
     * HAPI has already read {@code "id"} as an IdType, so a type prefix, a base URL or a version
     * in it shows up as parts of that IdType. A version is ignored: HAPI puts {@code meta.versionId}
     * there too, which every other server's export carries, and this store numbers versions itself.
     */
    static String checkOwnId(IBaseResource resource, String type) {
        IIdType id = resource.getIdElement();
        if (id == null || id.isEmpty()) {
            return null;
        }
        boolean valid = ResourceStore.isValidId(id.getIdPart()) && !id.hasBaseUrl()
                && (!id.hasResourceType() || type.equals(id.getResourceType()));
        if (!valid) {
            return "Invalid resource id '" + id.getValue() + "': an id is 1 to 64 letters, digits, '-' or '.'";
        }
        return null;
    }

    private String applyEntry(Chunk chunk, int item, IBaseResource resource, String type) {
        String fullUrl = chunk.fullUrls[item];
        String method = chunk.methods[item];
        String url = chunk.urls[item];
        if ("PUT".equalsIgnoreCase(method) && url != null && url.indexOf('?') < 0 && url.indexOf('/') > 0) {
            String urlType = url.startsWith("/") ? url.substring(1) : url;
            urlType = urlType.substring(0, urlType.indexOf('/'));
            if (!urlType.equals(type)) {
                return "request.url '" + url + "' does not match the resource type " + type;
            }
        }
        IIdType ownId = resource.getIdElement();
        String own = ownId == null || ownId.isEmpty() ? null : ownId.getIdPart();
        String id = BundleLinks.entryId(own, fullUrl, method, url);
        if (id != null) {
            if (!ResourceStore.isValidId(id)) {
                return "Invalid resource id '" + id + "': an id is 1 to 64 letters, digits, '-' or '.'";
            }
            resource.setId(type + "/" + id);
        }
        rewrittenReferences = 0;
        for (IBaseReference reference : terser.getAllPopulatedChildElementsOfType(resource, IBaseReference.class)) {
            IIdType element = reference.getReferenceElement();
            String target = element == null ? null : chunk.links.resolve(element.getValue());
            if (target != null) {
                reference.setReference(target);
                rewrittenReferences++;
            }
        }
        return null;
    }

    private boolean validUtf8(byte[] data, int start, int length) {
        try {
            strictUtf8.reset().decode(ByteBuffer.wrap(data, start, length));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }
}
