package dev.bulkfhir.examples.jpa;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.model.entity.ResourceEncodingEnum;
import ca.uhn.fhir.rest.api.server.SystemRequestDetails;
import ca.uhn.fhir.rest.client.api.IGenericClient;
import ca.uhn.fhir.rest.client.api.ServerValidationModeEnum;
import dev.bulkfhir.storage.source.ExportQuery;
import dev.bulkfhir.storage.source.ResourceSink;
import dev.bulkfhir.storage.jpa.JpaResourceSource;
import org.hl7.fhir.r4.model.Binary;
import org.hl7.fhir.r4.model.Narrative;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Organization;
import org.hl7.fhir.r4.model.Patient;
import org.hl7.fhir.r4.model.Reference;
import org.hl7.fhir.r4.model.Resource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import javax.sql.DataSource;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.GZIPOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the JPA source exports from HAPI's stored text equals what HAPI's own read of the resource gives,
 * for each form HAPI stores a resource in: inline JSON, compressed JSON (JSONC), with meta.source, with
 * tags, profiles and security labels (kept in tables of their own), with a contained resource, with
 * non-ASCII text, with small Binary content inline, in a later version. On H2 here; on PostgreSQL, where
 * HAPI's compressed text is a large object, in {@link JpaStoredFormPostgresTest}.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class JpaStoredFormTest {

    private JpaHost host;
    private JpaResourceSource source;

    /** The HAPI JPA host, not started. */
    JpaHost newHost() {
        return JpaHost.inMemory();
    }

    @BeforeAll
    void startAndWrite() throws Exception {
        host = newHost().start();
        FhirContext context = host.fhirContext();
        context.getRestfulClientFactory().setServerValidationMode(ServerValidationModeEnum.NEVER);
        IGenericClient client = context.newRestfulGenericClient(host.baseUrl());
        source = JpaResourceSource.of(host.spring()).withWriteGrace(Duration.ZERO);

        client.update().resource(patient("plain", "Plain")).execute();
        Patient sourced = patient("sourced", "Sourced");
        sourced.getMeta().setSource("http://example.org/intake#request-7");
        client.update().resource(sourced).execute();
        Patient tagged = patient("tagged", "Tagged");
        tagged.getMeta().addTag("http://example.org/tags", "vip", "VIP").addProfile("http://example.org/profile")
                .addSecurity("http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "R", null);
        client.update().resource(tagged).execute();
        client.update().resource(patient("updated", "Before")).execute();
        client.update().resource(patient("updated", "After, née Ünal \"quoted\" \\ slash")).execute();
        Patient narrative = patient("narrative", "Narrative");
        narrative.getText().setStatus(Narrative.NarrativeStatus.GENERATED).setDivAsString("<div xmlns=\"http://www.w3.org/1999/xhtml\">line one\nline two</div>");
        client.update().resource(narrative).execute();
        Observation withContained = new Observation().setStatus(Observation.ObservationStatus.FINAL);
        withContained.setId("contained");
        withContained.getCode().setText("heart rate");
        withContained.setSubject(new Reference("Patient/plain"));
        Organization lab = new Organization().setName("Lab");
        lab.setId("lab");
        withContained.getContained().add(lab);
        withContained.addPerformer(new Reference("#lab"));
        client.update().resource(withContained).execute();
        Binary small = new Binary().setContentType("text/plain").setData("hello".getBytes(StandardCharsets.UTF_8));
        small.setId("small");
        client.update().resource(small).execute();

        JpaStorageSettings settings = host.spring().getBean(JpaStorageSettings.class);
        settings.setResourceEncoding(ResourceEncodingEnum.JSONC);
        try {
            client.update().resource(patient("compressed", "Compressed")).execute();
            Observation observation = new Observation().setStatus(Observation.ObservationStatus.AMENDED);
            observation.setId("compressed-obs");
            observation.getCode().setText("compressed");
            observation.setSubject(new Reference("Patient/compressed"));
            client.update().resource(observation).execute();
            client.update().resource(patient("verbatim-compressed", "Verbatim")).execute();
        } finally {
            settings.setResourceEncoding(new JpaStorageSettings().getResourceEncoding());
        }
        client.update().resource(patient("verbatim", "Verbatim")).execute();
        storeText("verbatim", VERBATIM, false);
        storeText("verbatim-compressed", VERBATIM, true);
    }

    /**
     * Stored text as HAPI would never write it (a space after a comma): only a copy of the stored text keeps
     * it, HAPI's parser (the source's way where the stored form cannot be used) would not.
     */
    private static final String VERBATIM = "{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"Verbatim\"}], \"active\":true}";

    /**
     * Replaces the stored text of a Patient's only version, inline ({@code RES_TEXT_VC}) or gzip-compressed
     * ({@code RES_TEXT}: a BLOB on H2, a large object on PostgreSQL).
     */
    private void storeText(String id, String text, boolean compressed) throws Exception {
        try (Connection connection = host.spring().getBean(DataSource.class).getConnection()) {
            boolean postgres = connection.getMetaData().getDatabaseProductName().equals("PostgreSQL");
            String set = !compressed ? "RES_TEXT_VC = ?, RES_TEXT = null, RES_ENCODING = 'JSON'"
                    : postgres ? "RES_TEXT = lo_from_bytea(0, ?), RES_TEXT_VC = null, RES_ENCODING = 'JSONC'"
                    : "RES_TEXT = ?, RES_TEXT_VC = null, RES_ENCODING = 'JSONC'";
            try (PreparedStatement update = connection.prepareStatement("update HFJ_RES_VER set " + set
                    + " where RES_ID = (select RES_ID from HFJ_RESOURCE where RES_TYPE = 'Patient' and FHIR_ID = ?)")) {
                if (compressed) {
                    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                    try (GZIPOutputStream gzip = new GZIPOutputStream(bytes)) {
                        gzip.write(text.getBytes(StandardCharsets.UTF_8));
                    }
                    update.setBytes(1, bytes.toByteArray());
                } else {
                    update.setString(1, text);
                }
                update.setString(2, id);
                assertEquals(1, update.executeUpdate());
            }
        }
    }

    @AfterAll
    void stop() throws Exception {
        if (host != null) host.close();
    }

    @Test
    void everyExportedResourceEqualsHapisOwnRead() throws Exception {
        for (String type : List.of("Patient", "Observation", "Binary")) {
            TreeMap<String, Resource> exported = new TreeMap<>();
            exported(type).values().forEach(line -> {
                Resource resource = (Resource) host.fhirContext().newJsonParser().parseResource(line);
                exported.put(resource.getIdElement().getIdPart(), resource);
            });
            int expected = switch (type) {
                case "Patient" -> 8;
                case "Observation" -> 2;
                default -> 1;
            };
            assertEquals(expected, exported.size(), type + ": " + exported.keySet());
            for (Resource resource : exported.values()) {
                Resource read = (Resource) host.daos().getResourceDao(type)
                        .read(resource.getIdElement().toUnqualifiedVersionless(), new SystemRequestDetails());
                String ours = host.fhirContext().newJsonParser().encodeResourceToString(resource);
                String hapis = host.fhirContext().newJsonParser().encodeResourceToString(read);
                assertTrue(read.equalsDeep(resource), "\nours:  " + ours + "\nHAPI's: " + hapis);
                assertEquals(hapis, ours);
            }
        }
    }

    /** Inline and compressed, the text HAPI stored is what is exported, read as it is, not re-encoded. */
    @Test
    void theStoredTextIsExportedAsItIs() throws Exception {
        Map<String, String> lines = exported("Patient");
        String rest = VERBATIM.substring("{\"resourceType\":\"Patient\"".length());
        for (String id : List.of("verbatim", "verbatim-compressed")) {
            String line = lines.get(id);
            assertTrue(line.startsWith("{\"resourceType\":\"Patient\",\"id\":\"" + id + "\",\"meta\":{\"versionId\":\"1\","), line);
            assertTrue(line.endsWith("}" + rest), line);
        }
    }

    /** Every resource of the type exported now, by id: its line as exported. */
    private Map<String, String> exported(String type) throws Exception {
        Map<String, String> lines = new TreeMap<>();
        List<String> errors = new ArrayList<>();
        source.stream(ExportQuery.all(type, null, Instant.now()), new ResourceSink() {
            @Override
            public void resource(byte[] json) {
                String line = new String(json, StandardCharsets.UTF_8);
                assertTrue(!line.contains("\n"), line);
                String id = host.fhirContext().newJsonParser().parseResource(line).getIdElement().getIdPart();
                assertEquals(null, lines.put(id, line), "twice: " + line);
            }

            @Override
            public void error(String reference, String message) {
                errors.add(reference + ": " + message);
            }
        });
        assertEquals(List.of(), errors);
        return lines;
    }

    private static Patient patient(String id, String family) {
        Patient patient = new Patient();
        patient.setId(id);
        patient.addName().setFamily(family);
        return patient;
    }
}
