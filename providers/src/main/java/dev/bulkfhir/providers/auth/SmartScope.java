package dev.bulkfhir.providers.auth;

import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One SMART system scope: {@code system/[type|*].[permissions]}, in v1 ({@code read}, {@code write},
 * {@code *}) or v2 ({@code cruds} letters) syntax. Only {@code system/} scopes mean anything to a
 * backend-services server; {@code patient/}, {@code user/}, {@code launch} and v2 scopes with
 * query constraints ({@code ?category=...}, which this server cannot enforce) are not scopes here.
 *
 * @param resourceType a resource type, or {@link #ANY_TYPE}
 * @param permissions  never empty
 * @param text         the scope as written
 */
public record SmartScope(String resourceType, Set<Permission> permissions, String text) {

    public static final String ANY_TYPE = "*";
    /**
     * Types a {@code *} scope does not cover: only a scope naming them grants them. The audit trail
     * (AuditEvent) is for administrators, e.g. {@code system/AuditEvent.rs}, never for every data client.
     */
    public static final java.util.Set<String> NAMED_ONLY = java.util.Set.of("AuditEvent");

    private static final Pattern SYNTAX = Pattern.compile("system/([A-Z][A-Za-z]*|\\*)\\.(read|write|\\*|c?r?u?d?s?)");

    public SmartScope {
        permissions = Set.copyOf(permissions);
    }

    /** The scope, or empty if the text is not a system scope this server can honour. */
    public static Optional<SmartScope> parse(String text) {
        Matcher matcher = SYNTAX.matcher(text);
        if (!matcher.matches()) {
            return Optional.empty();
        }
        Set<Permission> permissions = switch (matcher.group(2)) {
            case "read" -> Permission.V1_READ;
            case "write" -> Permission.V1_WRITE;
            case "*" -> Permission.ALL;
            default -> lettersToPermissions(matcher.group(2));
        };
        return permissions.isEmpty() ? Optional.empty() : Optional.of(new SmartScope(matcher.group(1), permissions, text));
    }

    /** The system scopes in a space-separated scope string; anything else is left out. */
    public static List<SmartScope> parseAll(String scopes) {
        List<SmartScope> parsed = new ArrayList<>();
        if (scopes != null) {
            for (String text : scopes.trim().split("\\s+")) {
                parse(text).ifPresent(parsed::add);
            }
        }
        return parsed;
    }

    /** A scope in v2 syntax, e.g. {@code system/Observation.rs}. */
    public static SmartScope of(String resourceType, Set<Permission> permissions) {
        return new SmartScope(resourceType, permissions, "system/" + resourceType + "." + Permission.letters(permissions));
    }

    public boolean covers(String type, Permission permission) {
        return (resourceType.equals(type) || resourceType.equals(ANY_TYPE) && !NAMED_ONLY.contains(type))
                && permissions.contains(permission);
    }

    /** Whether this scope allows everything {@code other} allows. */
    public boolean covers(SmartScope other) {
        return (resourceType.equals(other.resourceType)
                || resourceType.equals(ANY_TYPE) && !NAMED_ONLY.contains(other.resourceType))
                && permissions.containsAll(other.permissions);
    }

    /**
     * What a client may have of this asked-for scope given one scope it is registered for: the
     * narrower type and the common permissions, written in the asked scope's syntax where it can be.
     */
    public Optional<SmartScope> intersect(SmartScope registered) {
        String type;
        if (resourceType.equals(ANY_TYPE)) {
            type = registered.resourceType;
        } else if (registered.resourceType.equals(ANY_TYPE) && !NAMED_ONLY.contains(resourceType)
                || registered.resourceType.equals(resourceType)) {
            type = resourceType;
        } else {
            return Optional.empty();
        }
        Set<Permission> common = EnumSet.noneOf(Permission.class);
        common.addAll(permissions);
        common.retainAll(registered.permissions);
        if (common.isEmpty()) {
            return Optional.empty();
        }
        if (type.equals(resourceType) && common.equals(permissions)) {
            return Optional.of(this);
        }
        String v1Word = isV1() ? v1Word(common) : null;
        return Optional.of(v1Word != null
                ? new SmartScope(type, common, "system/" + type + "." + v1Word)
                : of(type, common));
    }

    /**
     * The scopes to grant: each asked scope cut to what the registered scopes allow, without
     * duplicates or scopes that another granted scope already covers.
     */
    public static List<SmartScope> grant(Collection<SmartScope> asked, Collection<SmartScope> registered) {
        Map<String, SmartScope> candidates = new LinkedHashMap<>();
        for (SmartScope wanted : asked) {
            for (SmartScope allowed : registered) {
                wanted.intersect(allowed).ifPresent(scope -> candidates.putIfAbsent(scope.text, scope));
            }
        }
        List<SmartScope> kept = new ArrayList<>();
        for (SmartScope candidate : candidates.values()) {
            boolean redundant = false;
            for (SmartScope other : candidates.values()) {
                // Of two scopes that cover each other (system/*.read, system/*.rs) the first stays.
                if (other != candidate && other.covers(candidate)
                        && (!candidate.covers(other) || kept.contains(other))) {
                    redundant = true;
                    break;
                }
            }
            if (!redundant) {
                kept.add(candidate);
            }
        }
        return kept;
    }

    /** How to name a missing scope to a client: both syntaxes where v1 has a word for it. */
    public static String describe(String resourceType, Set<Permission> needed) {
        String word = Permission.V1_READ.containsAll(needed) ? "read"
                : Permission.V1_WRITE.containsAll(needed) ? "write" : "*";
        return "system/" + resourceType + "." + word + " (SMART v2: " + of(resourceType, needed).text + ")";
    }

    /** The space-separated form, as in a token's {@code scope}. */
    public static String join(Collection<SmartScope> scopes) {
        return String.join(" ", scopes.stream().map(SmartScope::text).toList());
    }

    @Override
    public String toString() {
        return text;
    }

    private boolean isV1() {
        return text.endsWith(".read") || text.endsWith(".write") || text.endsWith(".*");
    }

    private static String v1Word(Set<Permission> permissions) {
        if (permissions.equals(Permission.V1_READ)) return "read";
        if (permissions.equals(Permission.V1_WRITE)) return "write";
        if (permissions.equals(Permission.ALL)) return "*";
        return null;
    }

    private static Set<Permission> lettersToPermissions(String letters) {
        Set<Permission> permissions = EnumSet.noneOf(Permission.class);
        for (Permission permission : Permission.values()) {
            if (letters.indexOf(permission.letter()) >= 0) {
                permissions.add(permission);
            }
        }
        return permissions;
    }
}
