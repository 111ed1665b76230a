package dev.bulkfhir.server.binary;

import dev.bulkfhir.server.demo.DemoPdf;
import org.hl7.fhir.r4.model.Binary;
import org.hl7.fhir.r4.model.Bundle;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayOutputStream;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.bulkfhir.server.binary.BinaryServer.CONTEXT;
import static dev.bulkfhir.server.binary.BinaryServer.header;
import static dev.bulkfhir.server.binary.BinaryServer.text;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The read rule over HTTP, row by row: which Accept and _format values return the content itself
 * and which the Binary resource, byte-exact for a real PDF with non-text bytes.
 */
class BinaryReadMatrixTest {

    @TempDir
    static Path dataDir;
    static BinaryServer server;
    static byte[] pdf;
    static String id;

    @BeforeAll
    static void start() throws Exception {
        server = new BinaryServer(dataDir);
        // A valid one-page PDF, plus every byte value 0-255 in a trailing comment, so that any
        // text decoding or re-encoding on the way would show.
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        bytes.write(DemoPdf.page(List.of("Binary read matrix", "Byte-exact or bust")));
        bytes.write("%".getBytes(StandardCharsets.US_ASCII));
        for (int b = 0; b < 256; b++) bytes.write(b);
        bytes.write('\n');
        pdf = bytes.toByteArray();
        id = server.createRaw(pdf, "application/pdf", "X-Security-Context", "Patient/matrix");
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    enum Expect { NATIVE, JSON, XML, TURTLE, NOT_ACCEPTABLE }

    @ParameterizedTest(name = "[{index}] _format={0} Accept={1} -> {2}")
    @CsvSource(delimiter = '|', nullValues = "-", value = {
            // No _format: Accept decides; only FHIR types (with q > 0) mean wrapped.
            "-|-|NATIVE|application/pdf",
            "-|*/*|NATIVE|application/pdf",
            "-|application/pdf|NATIVE|application/pdf",
            "-|text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8|NATIVE|application/pdf",
            "-|application/json|NATIVE|application/pdf",
            "-|application/xml|NATIVE|application/pdf",
            "-|image/png|NATIVE|application/pdf",
            "-|application/fhir+ndjson|NATIVE|application/pdf",
            "-|application/fhir+json;q=0|NATIVE|application/pdf",
            "-|application/fhir+json|JSON|application/fhir+json",
            "-|application/fhir+xml|XML|application/fhir+xml",
            "-|application/json+fhir|JSON|application/json+fhir",
            "-|application/xml+fhir|XML|application/xml+fhir",
            "-|application/fhir+json; fhirVersion=4.0|JSON|application/fhir+json",
            "-|application/fhir+json;charset=utf-8|JSON|application/fhir+json",
            "-|application/pdf, application/fhir+xml;q=0.5|XML|application/fhir+xml",
            "-|application/fhir+xml;q=0.4, application/fhir+json;q=0.9|JSON|application/fhir+json",
            "-|application/fhir+xml, application/fhir+json|XML|application/fhir+xml",
            "-|text/turtle|TURTLE|text/turtle",
            // _format decides, leniently, and beats Accept.
            "json|-|JSON|application/fhir+json",
            "xml|-|XML|application/fhir+xml",
            "application/fhir+json|-|JSON|application/fhir+json",
            "application/fhir+xml|-|XML|application/fhir+xml",
            "application/json+fhir|-|JSON|application/json+fhir",
            "application/xml+fhir|-|XML|application/xml+fhir",
            "application/json|-|JSON|application/fhir+json",
            "application/xml|-|XML|application/fhir+xml",
            "text/xml|-|XML|application/fhir+xml",
            "ttl|-|TURTLE|application/x-turtle",
            "json|application/pdf|JSON|application/fhir+json",
            "json|*/*|JSON|application/fhir+json",
            "xml|application/fhir+json|XML|application/fhir+xml",
            "json|application/fhir+xml|JSON|application/fhir+json",
            "application/pdf|application/fhir+json|NATIVE|application/pdf",
            "application/pdf|-|NATIVE|application/pdf",
            // A _format that is neither a FHIR format nor the content's own type is refused.
            "ndjson|-|NOT_ACCEPTABLE|application/fhir+json",
            "application/fhir+ndjson|-|NOT_ACCEPTABLE|application/fhir+json",
            "text/csv|-|NOT_ACCEPTABLE|application/fhir+json",
            "html|-|NOT_ACCEPTABLE|application/fhir+json",
            // ...and the OperationOutcome comes in the format Accept asks for.
            "foo|application/fhir+xml|NOT_ACCEPTABLE|application/fhir+xml",
    })
    void readRule(String format, String accept, Expect expect, String contentType) throws Exception {
        for (String path : List.of("/Binary/" + id, "/Binary/" + id + "/_history/1")) {
            String url = path + (format == null ? "" : "?_format=" + URLEncoder.encode(format, StandardCharsets.UTF_8));
            HttpResponse<byte[]> response = accept == null ? server.get(url) : server.get(url, "Accept", accept);
            String type = header(response, "Content-Type");
            switch (expect) {
                case NATIVE -> {
                    assertEquals(200, response.statusCode(), text(response));
                    assertEquals(contentType, type);
                    assertArrayEquals(pdf, response.body(), "native content must be byte-exact");
                    assertEquals(Integer.toString(pdf.length), header(response, "Content-Length"));
                    assertEquals("nosniff", header(response, "X-Content-Type-Options"));
                    assertEquals("Patient/matrix", header(response, "X-Security-Context"));
                }
                case JSON -> {
                    assertEquals(200, response.statusCode(), text(response));
                    assertTrue(type.startsWith(contentType), type);
                    Binary binary = CONTEXT.newJsonParser().parseResource(Binary.class, text(response));
                    assertWrapped(binary);
                }
                case XML -> {
                    assertEquals(200, response.statusCode(), text(response));
                    assertTrue(type.startsWith(contentType), type);
                    Binary binary = CONTEXT.newXmlParser().parseResource(Binary.class, text(response));
                    assertWrapped(binary);
                }
                case TURTLE -> {
                    assertEquals(200, response.statusCode(), text(response));
                    assertTrue(type.startsWith(contentType), type);
                    assertTrue(text(response).contains("fhir:Binary"), text(response));
                }
                case NOT_ACCEPTABLE -> {
                    assertEquals(406, response.statusCode(), text(response));
                    assertTrue(type.startsWith(contentType), type);
                    assertTrue(text(response).contains("OperationOutcome"), text(response));
                    assertTrue(text(response).contains("_format=" + format), text(response));
                }
            }
        }
    }

    private static void assertWrapped(Binary binary) {
        assertEquals("application/pdf", binary.getContentType());
        assertEquals("Patient/matrix", binary.getSecurityContext().getReference());
        assertEquals(id, binary.getIdElement().getIdPart());
        assertArrayEquals(pdf, binary.getContent(), "base64 data must decode to the exact bytes");
    }

    @Test
    void searchByIdReturnsTheWrappedBinary() throws Exception {
        for (String accept : new String[] {null, "application/fhir+json", "*/*", "application/pdf"}) {
            HttpResponse<byte[]> response = accept == null ? server.get("/Binary?_id=" + id)
                    : server.get("/Binary?_id=" + id, "Accept", accept);
            assertEquals(200, response.statusCode(), text(response));
            Bundle bundle = CONTEXT.newJsonParser().parseResource(Bundle.class, text(response));
            assertEquals(Bundle.BundleType.SEARCHSET, bundle.getType());
            assertEquals(1, bundle.getEntry().size());
            assertWrapped((Binary) bundle.getEntryFirstRep().getResource());
        }
        Bundle viaClient = server.client.search().forResource(Binary.class)
                .where(org.hl7.fhir.r4.model.Resource.RES_ID.exactly().code(id)).returnBundle(Bundle.class).execute();
        assertWrapped((Binary) viaClient.getEntryFirstRep().getResource());
    }

    @Test
    void summaryAndElementsShapeTheWrappedRead() throws Exception {
        HttpResponse<byte[]> summary = server.get("/Binary/" + id + "?_format=json&_summary=true");
        assertEquals(200, summary.statusCode());
        Binary withoutData = CONTEXT.newJsonParser().parseResource(Binary.class, text(summary));
        assertNull(withoutData.getContent());
        assertEquals("application/pdf", withoutData.getContentType());
        assertTrue(text(summary).contains("SUBSETTED"), text(summary));

        HttpResponse<byte[]> elements = server.get("/Binary/" + id + "?_elements=contentType", "Accept",
                "application/fhir+json");
        assertFalse(text(elements).contains("\"data\""), text(elements));

        HttpResponse<byte[]> pretty = server.get("/Binary/" + id + "?_format=json&_pretty=true");
        assertTrue(text(pretty).contains("\n  \"resourceType\": \"Binary\""), text(pretty));

        // Without a FHIR format asked for, _summary does not make a read wrapped.
        HttpResponse<byte[]> nativeRead = server.get("/Binary/" + id + "?_summary=true");
        assertArrayEquals(pdf, nativeRead.body());
    }

    @Test
    void searchPagesLinkByOffset() throws Exception {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            ids.add(server.createRaw(("page " + i).getBytes(StandardCharsets.UTF_8), "text/plain"));
        }
        String query = "/Binary?_id=" + String.join(",", ids) + "&_count=2";
        List<String> seen = new ArrayList<>();
        String next = server.base() + query;
        while (next != null) {
            HttpResponse<byte[]> page = server.get(next.substring(server.base().length()));
            assertEquals(200, page.statusCode(), text(page));
            Bundle bundle = CONTEXT.newJsonParser().parseResource(Bundle.class, text(page));
            for (Bundle.BundleEntryComponent entry : bundle.getEntry()) {
                Binary binary = (Binary) entry.getResource();
                seen.add(binary.getIdElement().getIdPart());
                assertTrue(new String(binary.getContent(), StandardCharsets.UTF_8).startsWith("page "));
            }
            next = bundle.getLink("next") == null ? null : bundle.getLink("next").getUrl();
        }
        assertEquals(ids, seen);
    }
}
