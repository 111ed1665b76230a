package dev.bulkfhir.server.load;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.parser.DataFormatException;
import ca.uhn.fhir.parser.IParser;
import dev.bulkfhir.server.demo.DemoNdjson;
import dev.bulkfhir.storage.resource.PatientCompartment;
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
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A {@link SourceJson.Reader} stands in for HAPI's strict parse on NDJSON lines: whatever it accepts,
 * the loader's HAPI path must accept too, and store the same bytes under the same id in the same
 * patient compartments. What it cannot vouch for it leaves to HAPI (returns null).
 */
class SourceJsonReadTest {

    private static final FhirContext CONTEXT = FhirContext.forR4Cached();
    private static final Instant NOW = Instant.parse("2024-03-01T10:15:30.123Z");
    private static final String OBSERVATION = "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"}";

    private final PatientCompartment compartment = new PatientCompartment(CONTEXT);
    private final SourceJson.Reader reader = new SourceJson.Reader(CONTEXT, compartment);
    private final IParser strict = CONTEXT.newJsonParser().setParserErrorHandler(new StrictParseErrors());

    @Test
    void demoDataIsReadWithoutHapi(@TempDir Path dir) throws IOException {
        int read = 0;
        for (String line : demoLines(dir)) {
            if (check(line)) read++;
        }
        // All but the Binary and the DocumentReference (base64 content) are read without HAPI.
        assertTrue(read > 800, "lines read without HAPI: " + read);
    }

    @Test
    void awkwardButValidResourcesAreReadAsHapiReadsThem() {
        for (String json : List.of(
                OBSERVATION + ",\"subject\":{\"reference\":\"http://other/fhir/Patient/x\"}}",
                OBSERVATION + ",\"subject\":{\"reference\":\"Patient/p/_history/3\"}}",
                OBSERVATION + ",\"subject\":{\"reference\":\"Group/g\"},\"performer\":[{\"reference\":\"Patient/a\"},{\"reference\":\"Practitioner/b\"}]}",
                OBSERVATION + ",\"subject\":{\"display\":\"no reference\",\"identifier\":{\"value\":\"Patient/no\"}}}",
                OBSERVATION + ",\"subject\":{\"reference\":\"Patient/s\"},\"focus\":[{\"reference\":\"Patient/not-in-compartment\"}]}",
                OBSERVATION + ",\"valueQuantity\":{\"value\":1.50},\"effectiveDateTime\":\"2021\",\"issued\":\"2021-12-12T16:57:00.000+00:00\"}",
                OBSERVATION + ",\"component\":[{\"code\":{\"text\":\"a\"},\"valueInteger\":-7},{\"code\":{\"text\":\"b\"},\"valueString\":\"s\"}]}",
                "{\"resourceType\":\"Patient\",\"id\":\"me\",\"meta\":{\"versionId\":\"7\",\"lastUpdated\":\"2020-01-01T00:00:00Z\"},\"link\":[{\"other\":{\"reference\":\"Patient/other\"},\"type\":\"seealso\"}]}",
                "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Caf\u00e9 \\\"q\\\" \\\\ x\",\"given\":[\"A\\tB\",\"\u4e2d\ud83d\ude00\"]}],\"gender\":\"other\",\"birthDate\":\"1970-02\"}",
                "{\"resourceType\":\"Provenance\",\"target\":[{\"reference\":\"Patient/t\"},{\"reference\":\"Observation/o\"}],\"recorded\":\"2020-01-01T00:00:00Z\",\"agent\":[{\"who\":{\"reference\":\"Patient/w\"}}]}",
                "{\"resourceType\":\"Encounter\",\"status\":\"finished\",\"class\":{\"code\":\"AMB\"},\"subject\":{\"reference\":\"Patient/s\"},\"participant\":[{\"individual\":{\"reference\":\"Practitioner/p\"}}]}",
                "{\"resourceType\":\"AppointmentResponse\",\"appointment\":{\"reference\":\"Appointment/a\"},\"actor\":{\"reference\":\"Patient/r\"},\"participantStatus\":\"accepted\"}",
                "{\"resourceType\":\"Group\",\"type\":\"person\",\"actual\":true,\"member\":[{\"entity\":{\"reference\":\"Patient/m\"}}]}",
                "{\"resourceType\":\"Organization\",\"id\":\"o.1-a\",\"name\":\"o\",\"identifier\":[{\"id\":\"i1\",\"value\":\"v\"}]}")) {
            assertTrue(check(json), "read without HAPI: " + json);
        }
    }

    @Test
    void whatOnlyHapiCanJudgeIsLeftToHapi() {
        for (String json : List.of(
                OBSERVATION + ",\"effectiveDateTime\":\"2021-13-45\"}",
                OBSERVATION.replace("final", "bogus") + "}",
                OBSERVATION + ",\"valueInteger\":3000000000}",
                OBSERVATION + ",\"valueQuantity\":{\"value\":1},\"valueString\":\"both\"}",
                OBSERVATION + ",\"subject\":{\"reference\":\"#nowhere\"}}",
                OBSERVATION + ",\"encounter\":{\"reference\":\"#nowhere\"}}",
                OBSERVATION + ",\"valueQuantity\":{\"value\":1" + "0".repeat(100) + ".5}}",
                OBSERVATION + ",\"performer\":{\"reference\":\"Patient/not-a-list\"}}",
                "{\"resourceType\":\"Patient\",\"meta\":{\"lastUpdated\":\"yesterday\"}}",
                "{\"resourceType\":\"Patient\",\"meta\":{\"versionId\":\"\"}}",
                "{\"resourceType\":\"Patient\",\"name\":[{\"given\":\"not a list\"}]}",
                "{\"resourceType\":\"Patient\",\"extension\":[{\"url\":\"http://e\",\"valueString\":\"v\"}]}",
                "{\"resourceType\":\"Patient\",\"extension\":[{\"valueString\":\"no url\"}]}",
                "{\"resourceType\":\"Patient\",\"modifierExtension\":[{\"url\":\"http://e\",\"valueString\":\"v\"}]}",
                "{\"resourceType\":\"Patient\",\"name\":[{\"extension\":[{\"url\":\"http://e\",\"valueString\":\"v\"}],\"family\":\"f\"}]}",
                "{\"resourceType\":\"Patient\",\"id\":\"a b\"}",
                "{\"resourceType\":\"Patient\",\"id\":\"Patient/1\"}",
                "{\"resourceType\":\"Patient\",\"id\":\"" + "x".repeat(65) + "\"}",
                "{\"resourceType\":\"Patient\",\"id\":7}",
                "{\"resourceType\":\"Patient\",\"active\":TRUE}",
                "{\"resourceType\":\"Nonsense\",\"active\":true}",
                "{\"resourceType\":\"Patient\",\"gender\":\"male\",\"birthDate\":\"1970-1-1\"}",
                "{\"resourceType\":\"QuestionnaireResponse\",\"status\":\"completed\",\"item\":"
                        + "[{\"linkId\":\"a\",\"item\":".repeat(70) + "[{\"linkId\":\"z\"}]" + "}]".repeat(70) + "}")) {
            byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
            assertNull(reader.read(bytes, 0, bytes.length), json);
            check(json);
        }
    }

    @Test
    void invalidUtf8IsLeftToHapi() {
        byte[] bytes = "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Caf\u00e9\"}]}".getBytes(StandardCharsets.UTF_8);
        int at = new String(bytes, StandardCharsets.ISO_8859_1).indexOf('\u00c3');
        bytes[at + 1] = (byte) 0x28; // a lead byte followed by no continuation byte
        assertNull(reader.read(bytes, 0, bytes.length));
    }

    /** Random damage to demo lines: whatever read still accepts, HAPI's path must accept alike. */
    @Test
    void damagedLinesAreNeverAcceptedWhereHapiWouldNot(@TempDir Path dir) throws IOException {
        List<String> lines = demoLines(dir);
        String[] tokens = {"", "\"\"", "null", "true", "1", "-1.0", "1e3", "\"2021-02-30\"", "\"x y\"", "{}", "[]",
                "[\"a\"]", "{\"reference\":\"Patient/z\"}", "\"Patient/z\"", "\"#z\"", "\"\u00e9\"", "\"final\"",
                "\"valueString\":\"v\"", ",", ":", "\"", "\\", "{\"url\":\"u\"}", "\"extension\":[{\"url\":\"u\",\"valueCode\":\"c\"}]"};
        Random random = new Random(20261123);
        int accepted = 0;
        for (int i = 0; i < 6000; i++) {
            String line = lines.get(random.nextInt(lines.size()));
            int at = random.nextInt(line.length());
            String damaged = switch (random.nextInt(4)) {
                case 0 -> line.substring(0, at) + line.substring(Math.min(line.length(), at + 1 + random.nextInt(8)));
                case 1 -> line.substring(0, at) + tokens[random.nextInt(tokens.length)] + line.substring(at);
                case 2 -> replaceValue(line, at, tokens[random.nextInt(tokens.length)]);
                default -> line.substring(0, at) + line.substring(at).replaceFirst("\"[a-zA-Z]+\":",
                        "\"" + List.of("valueString", "value", "subject", "status", "id", "_status", "given", "text",
                                "extension", "contained", "component", "performer").get(random.nextInt(12)) + "\":");
            };
            if (check(damaged)) accepted++;
        }
        assertTrue(accepted > 300, "damaged lines still read without HAPI: " + accepted);
    }

    /** Replaces the JSON string or number value that starts after the next ':' from {@code at}. */
    private static String replaceValue(String line, int at, String token) {
        int colon = line.indexOf(':', at);
        if (colon < 0 || colon + 1 >= line.length()) return line;
        int end = colon + 1;
        if (line.charAt(end) == '"') {
            end = line.indexOf('"', end + 1);
            if (end < 0) return line;
            end++;
        } else {
            while (end < line.length() && "-.0123456789eE".indexOf(line.charAt(end)) >= 0) end++;
        }
        return line.substring(0, colon + 1) + token + line.substring(end);
    }

    /**
     * Checks read against the loader's HAPI path for one line; true if read accepted it (and then
     * agreed with HAPI on everything the store keeps).
     */
    private boolean check(String json) {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        SourceJson read = reader.read(bytes, 0, bytes.length);
        if (read == null) return false;
        IBaseResource parsed;
        try {
            parsed = strict.parseResource(json);
        } catch (DataFormatException e) {
            throw new AssertionError("read accepted what HAPI rejects (" + e.getMessage() + "): " + json);
        }
        String type = CONTEXT.getResourceType(parsed);
        assertNull(ResourceParser.checkOwnId(parsed, type), json);
        assertEquals(type, read.resourceType(), json);
        String ownId = parsed.getIdElement().isEmpty() ? null : parsed.getIdElement().getIdPart();
        assertEquals(ownId, read.id(), json);
        assertEquals(compartment.patientIds(parsed), read.patients(), json);
        // The stored bytes: HAPI's encoding when the source is in HAPI's order, the same resource anyway.
        parsed.setId(type + "/stored");
        parsed.getMeta().setVersionId("3");
        parsed.getMeta().setLastUpdated(Date.from(NOW));
        String lastUpdated = ((Meta) parsed.getMeta()).getLastUpdatedElement().getValueAsString();
        String stored = new String(read.stamp("stored", 3, lastUpdated), StandardCharsets.UTF_8);
        IParser encoder = CONTEXT.newJsonParser();
        assertEquals(encoder.encodeResourceToString(parsed), encoder.encodeResourceToString(strict.parseResource(stored)),
                () -> "stored " + stored + "\n for " + json);
        return true;
    }

    private static List<String> demoLines(Path dir) throws IOException {
        DemoNdjson.write(CONTEXT, 30, 5, dir);
        List<String> lines = new ArrayList<>();
        try (Stream<Path> files = Files.list(dir)) {
            for (Path file : files.sorted().toList()) {
                lines.addAll(Files.readAllLines(file));
            }
        }
        assertNotNull(lines.isEmpty() ? null : lines);
        return lines;
    }
}
