package dev.bulkfhir.storage.resource;

import ca.uhn.fhir.context.FhirContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The source JSON with the server's id and meta spliced in: what is spliced, what is left to HAPI
 * (null), and what a {@link SourceJson.Reader} finds without HAPI. That the splice equals HAPI's own
 * encoding is checked against HAPI on the demo data, in the server's loader tests.
 */
class SourceJsonTest {

    private static final FhirContext CONTEXT = FhirContext.forR4Cached();
    private static final String OBSERVATION = "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"}";

    private static SourceJson of(String json) {
        byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
        return SourceJson.of(CONTEXT, bytes, 0, bytes.length, null, null);
    }

    private static String stamped(SourceJson source) {
        return new String(source.stamp("s", 4, "L"), StandardCharsets.UTF_8);
    }

    static List<Arguments> spliced() {
        return List.of(
                Arguments.of("{\"resourceType\":\"Patient\"}",
                        "{\"resourceType\":\"Patient\",\"id\":\"s\",\"meta\":{\"versionId\":\"4\",\"lastUpdated\":\"L\"}}"),
                Arguments.of("{\"resourceType\":\"Patient\",\"id\":\"old\",\"meta\":{\"versionId\":\"9\",\"lastUpdated\":\"2001-01-01T00:00:00Z\"},\"active\":true}",
                        "{\"resourceType\":\"Patient\",\"id\":\"s\",\"meta\":{\"versionId\":\"4\",\"lastUpdated\":\"L\"},\"active\":true}"),
                Arguments.of("{\"resourceType\":\"Patient\",\"meta\":{\"profile\":[\"http://example.org/p\"]},\"gender\":\"female\"}",
                        "{\"resourceType\":\"Patient\",\"id\":\"s\",\"meta\":{\"versionId\":\"4\",\"lastUpdated\":\"L\",\"profile\":[\"http://example.org/p\"]},\"gender\":\"female\"}"),
                Arguments.of("{\"resourceType\":\"Patient\",\"meta\":{},\"active\":false}",
                        "{\"resourceType\":\"Patient\",\"id\":\"s\",\"meta\":{\"versionId\":\"4\",\"lastUpdated\":\"L\"},\"active\":false}"),
                Arguments.of("{ \"resourceType\" : \"Patient\",\n  \"active\" : true }\n",
                        "{\"resourceType\":\"Patient\",\"id\":\"s\",\"meta\":{\"versionId\":\"4\",\"lastUpdated\":\"L\"},\"active\":true}"),
                Arguments.of(OBSERVATION + ",\"valueQuantity\":{\"value\":1.50}}",
                        "{\"resourceType\":\"Observation\",\"id\":\"s\",\"meta\":{\"versionId\":\"4\",\"lastUpdated\":\"L\"},\"status\":\"final\",\"code\":{\"text\":\"x\"},\"valueQuantity\":{\"value\":1.50}}"));
    }

    @ParameterizedTest
    @MethodSource
    void spliced(String json, String stored) {
        SourceJson source = of(json);
        assertThat(source).as(json).isNotNull();
        assertThat(stamped(source)).isEqualTo(stored);
        assertThat(source.resourceType()).isEqualTo(json.contains("Observation") ? "Observation" : "Patient");
        assertThat(source.id()).as("only a Reader reads the id").isNull();
        assertThat(source.patients()).isNull();
    }

    /** Elements HAPI would write otherwise than the source has them, and JSON that is not a resource. */
    static List<String> leftToHapi() {
        return List.of("{\"resourceType\":\"Patient\",\"text\":{\"status\":\"generated\",\"div\":\"<div xmlns=\\\"http://www.w3.org/1999/xhtml\\\">x</div>\"}}",
                "{\"resourceType\":\"Patient\",\"contained\":[{\"resourceType\":\"Organization\",\"id\":\"o\"}],\"managingOrganization\":{\"reference\":\"#o\"}}",
                "{\"resourceType\":\"Patient\",\"name\":[]}",
                "{\"resourceType\":\"Patient\",\"name\":[{\"id\":\"only-an-id\"}]}",
                "{\"resourceType\":\"Patient\",\"name\":[{\"given\":[\"A\",\"B\"],\"_given\":[{\"id\":\"g1\"},{\"id\":\"g2\"}]}]}",
                "{\"resourceType\":\"Patient\",\"birthDate\":\"1970\",\"_birthDate\":{\"extension\":[{\"url\":\"http://t\",\"valueTime\":\"10:00:00\"}]}}",
                "{\"resourceType\":\"Patient\",\"name\":[{}]}",
                "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"\"}]}",
                "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\" padded \"}]}",
                "{\"resourceType\":\"Patient\",\"name\":[{\"given\":[\"A\",null]}]}",
                "{\"resourceType\":\"Patient\",\"active\":true,\"active\":false}",
                "{\"resourceType\":\"Patient\",\"meta\":{\"extension\":[{\"url\":\"http://e\",\"valueString\":\"v\"}]}}",
                "{\"resourceType\":\"Patient\",\"_id\":{\"extension\":[{\"url\":\"http://e\",\"valueString\":\"v\"}]}}",
                "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},\"valueQuantity\":{\"value\":1e2}}",
                "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},\"valueQuantity\":{\"value\":0.0000001}}",
                "{\"active\":true,\"resourceType\":\"Patient\"}",
                "{\"resourceType\":\"Patient\",\"photo\":[{\"contentType\":\"text/plain\",\"data\":\"aGVs\\nbG8=\"}]}",
                "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},\"valueQuantity\":{\"value\":\"5.4\"}}",
                "{\"resourceType\":\"Patient\",\"active\":\"true\"}",
                "{\"resourceType\":\"Patient\",\"name\":[{\"family\":5}]}",
                "{\"resourceType\":\"Patient\",\"gender\":\"male\",\"birthDate\":19700101}",
                "{\"resourceType\":\"Bundle\",\"type\":\"collection\",\"entry\":[{\"resource\":{\"resourceType\":\"Patient\"}}]}",
                "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Caf\\u00e9\"}]}",
                "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"a\\/b\"}]}",
                "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"a\\bb\"}]}",
                "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"\u00a0nbsp\"}]}",
                "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"tab\\t\"}]}",
                "{\"resourceType\":\"Observation\",\"status\":\"final\",\"code\":{\"text\":\"x\"},\"valueInteger\":-0}",
                "{\"resourceType\":\"Patient\",\"active\":null}",
                "{\"resourceType\":\"Patient\",\"active\":true",
                "{\"resourceType\":\"Patient\",\"active\":true,}",
                "{\"resourceType\":\"Patient\" /* comment */}",
                "{\"active\":true}",
                "[1]",
                "{\"resourceType\":\"Patient\"} trailing");
    }

    @ParameterizedTest
    @MethodSource
    void leftToHapi(String json) {
        assertThat(of(json)).isNull();
    }

    @Test
    void referencesAreRewrittenAndCounted() {
        byte[] json = (OBSERVATION + ",\"subject\":{\"reference\":\"urn:uuid:1\"},"
                + "\"performer\":[{\"reference\":\"Practitioner/p\"}]}").getBytes(StandardCharsets.UTF_8);
        int[] count = new int[1];
        SourceJson source = SourceJson.of(CONTEXT, json, 0, json.length,
                reference -> reference.equals("urn:uuid:1") ? "Patient/1" : null, count);
        assertThat(source).isNotNull();
        assertThat(count[0]).isEqualTo(1);
        assertThat(new String(source.stamp("o", 2, "L"), StandardCharsets.UTF_8)).isEqualTo(
                "{\"resourceType\":\"Observation\",\"id\":\"o\",\"meta\":{\"versionId\":\"2\",\"lastUpdated\":\"L\"},"
                + "\"status\":\"final\",\"code\":{\"text\":\"x\"},\"subject\":{\"reference\":\"Patient/1\"},"
                + "\"performer\":[{\"reference\":\"Practitioner/p\"}]}");
    }

    @Test
    void aReaderFindsTheIdAndThePatientsWithoutHapi() {
        SourceJson.Reader reader = new SourceJson.Reader(CONTEXT, new PatientCompartment(CONTEXT));
        byte[] json = (OBSERVATION.replace("\"Observation\",", "\"Observation\",\"id\":\"o-1\",")
                + ",\"subject\":{\"reference\":\"Patient/p\"}}")
                .getBytes(StandardCharsets.UTF_8);
        byte[] padded = new byte[json.length + 4];
        System.arraycopy(json, 0, padded, 2, json.length);
        SourceJson read = reader.read(padded, 2, json.length);
        assertThat(read).isNotNull();
        assertThat(read.resourceType()).isEqualTo("Observation");
        assertThat(read.id()).isEqualTo("o-1");
        assertThat(read.patients()).containsExactly("p");
        assertThat(read.withPatients(Set.of("q")).patients()).containsExactly("q");
        assertThat(stamped(read)).startsWith("{\"resourceType\":\"Observation\",\"id\":\"s\",");

        byte[] patient = "{\"resourceType\":\"Patient\",\"id\":\"me\"}".getBytes(StandardCharsets.UTF_8);
        assertThat(reader.read(patient, 0, patient.length).patients()).containsExactly("me");
        byte[] unknown = "{\"resourceType\":\"Patient\",\"nickname\":\"x\"}".getBytes(StandardCharsets.UTF_8);
        assertThat(reader.read(unknown, 0, unknown.length)).as("an element R4 does not have").isNull();
    }
}
