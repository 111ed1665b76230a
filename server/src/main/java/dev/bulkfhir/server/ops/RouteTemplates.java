package dev.bulkfhir.server.ops;

import dev.bulkfhir.storage.export.ExportFileStore;

import java.util.Set;

/**
 * Maps a request path to a bounded route template for metrics and the request log: ids become
 * {@code {id}}, unknown resource types and operations become placeholders, so that no client can
 * make the number of time series grow.
 */
final class RouteTemplates {

    /** What a request path names: its template, and whether it reads an export file (for download bytes). */
    record Route(String template, boolean exportFile) {}

    private static final Set<String> OPERATIONS = Set.of("$export", "$export-poll-status", "$binary-access-read",
            "$export-download", "$meta", "$validate", "$everything");
    private static final Set<String> OPS_PATHS = Set.of("/metrics", "/health/live", "/health/ready",
            "/.well-known/smart-configuration");
    private static final Set<String> METHODS = Set.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS");
    private static final Route OTHER = new Route("other", false);

    private final String basePath;
    private final Set<String> resourceTypes;

    /** @param basePath the FHIR base, normalized ({@code /} or {@code /fhir}) */
    RouteTemplates(String basePath, Set<String> resourceTypes) {
        this.basePath = basePath.equals("/") ? "" : basePath;
        this.resourceTypes = resourceTypes;
    }

    static String method(String method) {
        return METHODS.contains(method) ? method : "OTHER";
    }

    Route route(String path) {
        if (path == null) return OTHER;
        if (OPS_PATHS.contains(path)) return new Route(path, false);
        if (!path.startsWith(basePath) || (path.length() > basePath.length() && path.charAt(basePath.length()) != '/')) {
            return OTHER;
        }
        String[] segments = path.substring(basePath.length()).split("/");
        // segments[0] is empty: the path after the base starts with '/'
        int count = segments.length - 1;
        if (count <= 0) return new Route("/", false);
        String first = segments[1];
        if (count == 1) {
            if (first.equals("metadata") || first.equals("_history") || first.equals("_search")) {
                return new Route("/" + first, false);
            }
            if (first.startsWith("$")) return new Route("/" + operation(first), false);
        }
        if (count == 2 && first.equals("auth") && segments[2].equals("token")) return new Route("/auth/token", false);
        if (count == 2 && first.equals(".well-known")) return new Route("/.well-known/" + segments[2], false);
        if (!resourceTypes.contains(first)) return new Route("/{type}", false);
        return new Route("/" + first + instance(segments, count), first.equals("Binary") && count >= 2
                && ExportFileStore.isFileId(segments[2]));
    }

    private static String instance(String[] segments, int count) {
        if (count == 1) return "";
        String second = segments[2];
        if (count == 2) {
            if (second.equals("_search") || second.equals("_history")) return "/" + second;
            if (second.startsWith("$")) return "/" + operation(second);
            return "/{id}";
        }
        String third = segments[3];
        if (count == 3 && third.startsWith("$")) return "/{id}/" + operation(third);
        if (third.equals("_history")) {
            if (count == 3) return "/{id}/_history";
            if (count == 4) return "/{id}/_history/{vid}";
        }
        return "/{id}/{other}";
    }

    private static String operation(String name) {
        return OPERATIONS.contains(name) ? name : "$other";
    }
}
