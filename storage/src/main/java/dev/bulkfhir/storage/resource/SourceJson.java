package dev.bulkfhir.storage.resource;

import ca.uhn.fhir.context.BaseRuntimeChildDefinition;
import ca.uhn.fhir.context.BaseRuntimeElementDefinition;
import ca.uhn.fhir.context.FhirContext;
import org.hl7.fhir.instance.model.api.IPrimitiveType;

import java.nio.charset.StandardCharsets;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * The JSON a resource was parsed from, compacted, with its server-owned parts ({@code id},
 * {@code meta.versionId}, {@code meta.lastUpdated}) cut out, so that the store can write it with the
 * server's values spliced in instead of re-encoding the parsed resource with HAPI (which costs as
 * much as parsing it, and allocates far more).
 *
 * <p>The result is what HAPI would encode for the same resource whenever the source is in HAPI's
 * element order (any HAPI-written JSON, such as this server's own exports): one line,
 * {@code resourceType}, {@code id} and {@code meta} first, no whitespace, strings escaped as
 * HAPI's Jackson escapes them. For other sources only the order of the elements after {@code meta}
 * may differ from HAPI's, which JSON readers (HAPI's among them) ignore.
 *
 * <p>{@link #of} gives up (returns null, and the caller lets HAPI encode the resource) wherever
 * HAPI's encoding could say something else than the source: empty or null values, strings with
 * leading or trailing whitespace, escapes other than {@code \" \\ \n \r \t}, numbers that HAPI would
 * write differently, base64 content, narrative XHTML, contained or nested resources, ids and
 * extensions of primitives ({@code _given}...), elements with only an id, extensions on {@code meta},
 * duplicate keys, and a JSON type other than the one HAPI writes for the element (a number written
 * as a string: HAPI reads it, and writes a number). The scan follows HAPI's model definitions for
 * that; where it cannot tell an element's type, it gives up too.
 *
 * <p>A {@link Reader} goes further and stands in for HAPI's parser: it also checks every primitive
 * value with HAPI's own datatype (as HAPI's parser does), the resource's id, and the rest of what a
 * strict parse rejects, and finds the patient compartments on the way. It gives up wherever it
 * cannot vouch for the resource (extensions among them): the caller then parses with HAPI, whose
 * verdict and error message stand.
 */
public final class SourceJson {

    private static final byte[] PREFIX = "{\"resourceType\":\"".getBytes(StandardCharsets.US_ASCII);

    private final String resourceType;
    /** The id the source gives the resource; set by a {@link Reader} only. */
    private final String id;
    /** Meta elements other than versionId and lastUpdated, each preceded by a comma; may be empty. */
    private final byte[] metaRest;
    /** The elements after meta, each preceded by a comma, and the closing brace. */
    private final byte[] body;
    /** The patient compartments the resource is in, if worked out already; null otherwise. */
    private final Set<String> patients;

    SourceJson(String resourceType, String id, byte[] metaRest, byte[] body, Set<String> patients) {
        this.resourceType = resourceType;
        this.id = id;
        this.metaRest = metaRest;
        this.body = body;
        this.patients = patients;
    }

    public String resourceType() {
        return resourceType;
    }

    /** The resource's own id, a valid FHIR id, or null if it has none (or this source is not from a {@link Reader}). */
    public String id() {
        return id;
    }

    /**
     * The same source, with the ids of the patients whose compartments the resource is in (as
     * {@link PatientCompartment#patientIds} gives them for the parsed resource). The store then uses
     * them instead of looking into the resource, which the caller may then drop: the store needs only
     * the type and id of a resource that comes with a source and its patients.
     */
    public SourceJson withPatients(Set<String> patientIds) {
        return new SourceJson(resourceType, id, metaRest, body, Set.copyOf(patientIds));
    }

    /** The patient ids given with {@link #withPatients}, or null. */
    public Set<String> patients() {
        return patients;
    }

    /**
     * @param context    the FHIR version's model
     * @param json       UTF-8 JSON of one resource (already parsed successfully by HAPI)
     * @param references rewrites the value of every {@code reference} element: returns the new value,
     *                   or null to keep it; null to keep all
     * @param rewritten  counts the references rewritten (index 0), so that the caller can check the
     *                   count against its own rewrite of the parsed resource; may be null
     * @return the source, ready to be stamped; null if HAPI must encode this resource
     */
    public static SourceJson of(FhirContext context, byte[] json, int offset, int length,
            UnaryOperator<String> references, int[] rewritten) {
        try {
            return new SourceJsonScanner(context, null, json, offset, offset + length, references, rewritten).resource();
        } catch (RuntimeException e) {
            return null; // GiveUp, or anything unexpected: HAPI encodes it
        }
    }

    /**
     * Reads resources that HAPI has not parsed, on one thread (it keeps one instance of each primitive
     * datatype to check values with).
     */
    public static final class Reader {

        private final FhirContext context;
        final PatientCompartment compartment;
        /** Per element (an enumeration) or datatype: an instance to check values with. */
        private final Map<Object, IPrimitiveType<?>> checkers = new IdentityHashMap<>();

        public Reader(FhirContext context, PatientCompartment compartment) {
            this.context = context;
            this.compartment = compartment;
        }

        /**
         * The source, with its {@linkplain #id() id} and its {@linkplain #patients() patients} (as the
         * compartment would find them in the parsed resource), if HAPI's strict parse would accept the
         * JSON and encode it as the source has it.
         *
         * @param json UTF-8 JSON of one resource, not yet checked in any way
         * @return the source, ready to be stamped; null if HAPI must parse this resource (and judge it)
         */
        public SourceJson read(byte[] json, int offset, int length) {
            try {
                return new SourceJsonScanner(context, this, json, offset, offset + length, null, null).resource();
            } catch (RuntimeException | StackOverflowError e) {
                return null;
            }
        }

        /** The value as HAPI's parser checks it: the element's datatype must take it. */
        void check(BaseRuntimeChildDefinition child, BaseRuntimeElementDefinition<?> type, String value) {
            Object arguments = child.getInstanceConstructorArguments();
            IPrimitiveType<?> checker = checkers.computeIfAbsent(arguments == null ? type : child,
                    key -> (IPrimitiveType<?>) type.newInstance(arguments));
            try {
                checker.setValueAsString(value);
            } catch (RuntimeException e) {
                throw SourceJsonScanner.giveUp(); // HAPI rejects it, with its own message
            }
        }
    }

    /**
     * The stored JSON: the source with the server's id, versionId and lastUpdated.
     *
     * @param id          a valid FHIR id (no escaping needed)
     * @param lastUpdated as HAPI writes {@code meta.lastUpdated}
     */
    public byte[] stamp(String id, long version, String lastUpdated) {
        byte[] type = resourceType.getBytes(StandardCharsets.UTF_8);
        byte[] head = ("\",\"id\":\"" + id + "\",\"meta\":{\"versionId\":\"" + version + "\",\"lastUpdated\":\""
                + lastUpdated + "\"").getBytes(StandardCharsets.US_ASCII);
        byte[] json = new byte[PREFIX.length + type.length + head.length + metaRest.length + 1 + body.length];
        int at = 0;
        System.arraycopy(PREFIX, 0, json, at, PREFIX.length);
        at += PREFIX.length;
        System.arraycopy(type, 0, json, at, type.length);
        at += type.length;
        System.arraycopy(head, 0, json, at, head.length);
        at += head.length;
        System.arraycopy(metaRest, 0, json, at, metaRest.length);
        at += metaRest.length;
        json[at++] = '}';
        System.arraycopy(body, 0, json, at, body.length);
        return json;
    }
}
