package dev.bulkfhir.server.load;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.IParser;
import dev.bulkfhir.server.demo.DemoNdjson;
import dev.bulkfhir.storage.resource.SourceJson;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Meta;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The loader stores the source JSON with the server's id and meta spliced in, instead of HAPI's
 * encoding of the parsed resource: the two must be the same bytes wherever the splice is used.
 */
class SourceJsonTest {

    private static final FhirContext CONTEXT = FhirContext.forR4Cached();
    private static final Instant NOW = Instant.parse("2024-03-01T10:15:30.123Z");

    @Test
    void demoDataIsStoredExactlyAsHapiWouldEncodeIt(@TempDir Path dir) throws IOException {
        DemoNdjson.write(CONTEXT, 40, 7, dir);
        int lines = 0;
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : files.sorted().toList()) {
                // Binary is never spliced; the DocumentReference has base64 content (its attachment hash).
                String name = file.getFileName().toString();
                if (name.equals("Binary.ndjson") || name.equals("DocumentReference.ndjson")) continue;
                for (String line : Files.readAllLines(file)) {
                    assertSameAsHapi(line, "x-" + lines, 3);
                    lines++;
                }
            }
        }
        assertTrue(lines > 500, "demo lines checked: " + lines);
    }

    @Test
    void sourcesInHapiOrderAreSplicedExactly() {
        for (String json : List.of(
                "{\"resourceType\":\"Patient\"}",
                "{\"resourceType\":\"Patient\",\"id\":\"old\",\"meta\":{\"versionId\":\"9\",\"lastUpdated\":\"2001-01-01T00:00:00Z\"},\"active\":true}",
                "{\"resourceType\":\"Patient\",\"meta\":{\"profile\":[\"http://example.org/p\"],\"tag\":[{\"code\":\"t\"}]},\"gender\":\"female\"}",
                "{\"resourceType\":\"Patient\",\"meta\":{\"source\":\"#abc\",\"security\":[{\"code\":\"R\"}]},\"active\":false}",
                "{\"resourceType\":\"Patient\",\"meta\":{},\"active\":false}",
                "{ \"resourceType\" : \"Patient\",\n  \"name\" : [ { \"family\" : \"Caf\u00e9 \\\"quoted\\\" / slash \\\\ \\\\ x\", \"given\": [\"A\\tB\\nC\\rD\", \"\u00e9\u4e2d\ud83d\ude00\"] } ] }\n",
                "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},\"valueQuantity\":{\"value\":1.50,\"unit\":\"mmol\"}}",
                "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},\"valueQuantity\":{\"value\":-3,\"unit\":\"mmol\"}}",
                "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},\"valueQuantity\":{\"value\":0.001}}",
                "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},\"valueInteger\":42}",
                "{\"resourceType\":\"Patient\",\"extension\":[{\"url\":\"http://e\",\"valueString\":\"v\"}],\"birthDate\":\"1970\"}",
                "{\"resourceType\":\"Patient\",\"name\":[{\"id\":\"n1\",\"family\":\"F\"}]}")) {
            assertSameAsHapi(json, "p1", 1);
        }
    }

    /** The splice of {@code json} equals what the store's HAPI path makes of it. */
    private static void assertSameAsHapi(String json, String id, long version) {
        IParser parser = CONTEXT.newJsonParser().setParserErrorHandler(new StrictParseErrors());
        IBaseResource resource = parser.parseResource(json);
        String type = CONTEXT.getResourceType(resource);
        resource.setId(type + "/" + id);
        resource.getMeta().setVersionId(Long.toString(version));
        resource.getMeta().setLastUpdated(Date.from(NOW));
        String expected = CONTEXT.newJsonParser().encodeResourceToString(resource);
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        SourceJson source = SourceJson.of(CONTEXT, bytes, 0, bytes.length, null, null);
        assertNotNull(source, json);
        String lastUpdated = ((Meta) resource.getMeta()).getLastUpdatedElement().getValueAsString();
        assertArrayEquals(expected.getBytes(StandardCharsets.UTF_8), source.stamp(id, version, lastUpdated),
                () -> "expected " + expected + "\n but was " + new String(source.stamp(id, version, lastUpdated),
                        StandardCharsets.UTF_8));
    }
}
