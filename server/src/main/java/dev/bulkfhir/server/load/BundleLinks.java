package dev.bulkfhir.server.load;

import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

/**
 * What the references of one Bundle file point at: each entry's {@code urn:uuid:} (or
 * {@code urn:oid:}) fullUrl, mapped to the {@code Type/id} the entry is stored under, plus the
 * load-wide map of conditional-create criteria ({@code Organization?identifier=s|v}) that Synthea
 * uses to point at organizations and practitioners written in other files.
 *
 * <p>Filled by the first, cheap pass over the file, then only read (by several parser threads).
 * It holds a few dozen bytes per entry, never a resource.
 */
final class BundleLinks {

    private static final String UUID_PREFIX = "urn:uuid:";
    private static final String OID_PREFIX = "urn:oid:";

    /** Value: the resource type (interned) when the id is the UUID as written, else "Type/id". */
    private final Map<UUID, String> uuids = new HashMap<>();
    private final Map<String, String> others = new HashMap<>();
    private final ConditionalTargets conditional;

    BundleLinks(ConditionalTargets conditional) {
        this.conditional = conditional;
    }

    /**
     * The id an entry is stored under: a PUT's {@code Type/id} url wins (as in a FHIR transaction),
     * then the id of a {@code urn:uuid:X} or {@code urn:oid:X} fullUrl, then the resource's own id
     * (null: the store assigns one).
     */
    static String entryId(String resourceId, String fullUrl, String method, String url) {
        if ("PUT".equalsIgnoreCase(method) && url != null && url.indexOf('?') < 0) {
            String path = url;
            int history = path.indexOf("/_history");
            if (history >= 0) path = path.substring(0, history);
            int slash = path.lastIndexOf('/');
            if (slash > 0 && slash < path.length() - 1) {
                return path.substring(slash + 1);
            }
        }
        String urnId = urnId(fullUrl);
        return urnId != null ? urnId : resourceId;
    }

    /** X of {@code urn:uuid:X} or {@code urn:oid:X}, else null. */
    static String urnId(String fullUrl) {
        if (fullUrl == null) return null;
        if (fullUrl.regionMatches(true, 0, UUID_PREFIX, 0, UUID_PREFIX.length())) {
            return fullUrl.substring(UUID_PREFIX.length());
        }
        if (fullUrl.regionMatches(true, 0, OID_PREFIX, 0, OID_PREFIX.length())) {
            return fullUrl.substring(OID_PREFIX.length());
        }
        return null;
    }

    /** Records where an entry's fullUrl points (pass 1). */
    void add(String fullUrl, String type, String id, String method, String url, String ifNoneExist) {
        if (type == null || id == null) {
            return;
        }
        type = type.intern();
        if (fullUrl != null && urnId(fullUrl) != null) {
            UUID uuid = uuidOf(fullUrl);
            if (uuid != null) {
                String x = fullUrl.substring(UUID_PREFIX.length());
                uuids.put(uuid, x.equals(id) && x.equals(uuid.toString()) ? type : type + "/" + id);
            } else {
                others.put(fullUrl.toLowerCase(Locale.ROOT), type + "/" + id);
            }
        }
        // Conditional create (POST + ifNoneExist) and conditional update (PUT Type?criteria).
        if (ifNoneExist != null && url != null && url.indexOf('?') < 0) {
            conditional.put(url + "?" + stripQuestionMark(ifNoneExist), type + "/" + id);
        } else if ("PUT".equalsIgnoreCase(method) && url != null && url.indexOf('?') > 0) {
            conditional.put(url, type + "/" + id);
        }
    }

    /** Where a reference of this file points as {@code Type/id}, or null to leave it as it is. */
    String resolve(String reference) {
        if (reference == null) return null;
        if (urnId(reference) != null) {
            UUID uuid = uuidOf(reference);
            if (uuid != null) {
                String target = uuids.get(uuid);
                if (target == null) return null;
                return target.indexOf('/') >= 0 ? target : target + "/" + uuid;
            }
            return others.get(reference.toLowerCase(Locale.ROOT));
        }
        if (reference.indexOf('?') > 0) {
            return conditional.get(reference);
        }
        return null;
    }

    int size() {
        return uuids.size() + others.size();
    }

    private static String stripQuestionMark(String criteria) {
        return criteria.startsWith("?") ? criteria.substring(1) : criteria;
    }

    private static UUID uuidOf(String urn) {
        if (urn.length() != UUID_PREFIX.length() + 36 || !urn.regionMatches(true, 0, UUID_PREFIX, 0, UUID_PREFIX.length())) {
            return null;
        }
        try {
            return UUID.fromString(urn.substring(UUID_PREFIX.length()));
        } catch (IllegalArgumentException e) {
            return null;
        }
    }
}
