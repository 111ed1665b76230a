package dev.bulkfhir.server.ops;

import ca.uhn.fhir.context.FhirContext;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RouteTemplatesTest {

    private final RouteTemplates routes = new RouteTemplates("/fhir", FhirContext.forR4Cached().getResourceTypes());

    private String route(String path) {
        return routes.route(path).template();
    }

    @Test
    void idsBecomePlaceholders() {
        assertEquals("/Binary/{id}", route("/fhir/Binary/abc-123"));
        assertEquals("/Binary/{id}/$export-download", route("/fhir/Binary/abc/$export-download"));
        assertEquals("/Patient/{id}/_history/{vid}", route("/fhir/Patient/p1/_history/3"));
        assertEquals("/Patient/{id}/_history", route("/fhir/Patient/p1/_history"));
        assertEquals("/Patient", route("/fhir/Patient"));
        assertEquals("/Patient/$export", route("/fhir/Patient/$export"));
        assertEquals("/Group/{id}/$export", route("/fhir/Group/g/$export"));
        assertEquals("/$export", route("/fhir/$export"));
        assertEquals("/metadata", route("/fhir/metadata"));
        assertEquals("/auth/token", route("/fhir/auth/token"));
        assertEquals("/", route("/fhir"));
        assertEquals("/", route("/fhir/"));
    }

    @Test
    void whatAClientMakesUpStaysBounded() {
        assertEquals("/{type}", route("/fhir/NoSuchType/1"));
        assertEquals("/$other", route("/fhir/$made-up-" + System.nanoTime()));
        assertEquals("/Patient/{id}/$other", route("/fhir/Patient/1/$whatever"));
        assertEquals("/Patient/{id}/{other}", route("/fhir/Patient/1/a/b/c"));
        assertEquals("other", route("/elsewhere/x"));
        assertEquals("other", route("/fhirx/Patient"));
        assertEquals("OTHER", RouteTemplates.method("BREW"));
        assertEquals("/metrics", route("/metrics"));
    }

    @Test
    void exportFilesAreRecognised() {
        assertFalse(routes.route("/fhir/Binary/plain-id").exportFile());
        assertTrue(routes.route("/fhir/Binary/bulk-0123456789abcdef0123456789abcdef").exportFile());
        assertTrue(routes.route("/fhir/Binary/bulk-0123456789abcdef0123456789abcdef/$export-download").exportFile());
    }

    @Test
    void aBaseAtTheRoot() {
        RouteTemplates root = new RouteTemplates("/", FhirContext.forR4Cached().getResourceTypes());
        assertEquals("/", root.route("/").template());
        assertEquals("/Patient/{id}", root.route("/Patient/1").template());
        assertEquals("/health/ready", root.route("/health/ready").template());
    }
}
