package dev.bulkfhir.providers.audit;

import ca.uhn.fhir.context.FhirContext;
import org.hl7.fhir.r4.model.AuditEvent;
import org.hl7.fhir.r4.model.Coding;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AuditEventsTest {

    private static final FhirContext FHIR = FhirContext.forR4Cached();

    @Test
    void aBinaryReadIsARestReadByItsClientOfThatBinary() {
        AuditEvent event = AuditEvents.render(new AuditRecord(1_700_000_000_000L, AuditAction.BINARY_READ, 200,
                "client-1", "Binary/abc", "native", 0, 1024), "42", "https://fhir.example.org/fhir");

        assertEquals("42", event.getIdElement().getIdPart());
        assertCoding(event.getType(), "http://terminology.hl7.org/CodeSystem/audit-event-type", "rest");
        assertCoding(event.getSubtype().get(0), "http://hl7.org/fhir/restful-interaction", "read");
        assertCoding(event.getSubtype().get(1), AuditEvents.ACTION_SYSTEM, "binary-read");
        assertEquals(AuditEvent.AuditEventAction.R, event.getAction());
        assertEquals(1_700_000_000_000L, event.getRecorded().getTime());
        assertEquals(AuditEvent.AuditEventOutcome._0, event.getOutcome());

        AuditEvent.AuditEventAgentComponent client = event.getAgent().get(0);
        assertCoding(client.getType().getCodingFirstRep(), "http://dicom.nema.org/resources/ontology/DCM", "110153");
        assertEquals("client-1", client.getWho().getIdentifier().getValue());
        assertEquals(AuditEvents.CLIENT_ID_SYSTEM, client.getWho().getIdentifier().getSystem());
        assertTrue(client.getRequestor());
        AuditEvent.AuditEventAgentComponent server = event.getAgent().get(1);
        assertCoding(server.getType().getCodingFirstRep(), "http://dicom.nema.org/resources/ontology/DCM", "110152");
        assertFalse(server.getRequestor());
        assertEquals("https://fhir.example.org/fhir", event.getSource().getObserver().getDisplay());

        AuditEvent.AuditEventEntityComponent entity = event.getEntityFirstRep();
        assertEquals("Binary/abc", entity.getWhat().getReference());
        assertCoding(entity.getType(), "http://terminology.hl7.org/CodeSystem/audit-entity-type", "2");
        assertCoding(entity.getRole(), "http://terminology.hl7.org/CodeSystem/object-role", "4");
        assertEquals("native", entity.getDescription());
        assertEquals("bytes", entity.getDetailFirstRep().getType());
        assertEquals("1024", entity.getDetailFirstRep().getValue().primitiveValue());
        // Valid enough for HAPI's parser to take back.
        String json = FHIR.newJsonParser().encodeResourceToString(event);
        assertEquals("Binary/abc", FHIR.newJsonParser().parseResource(AuditEvent.class, json)
                .getEntityFirstRep().getWhat().getReference());
    }

    @Test
    void aRefusalIsAMinorFailureWithItsStatus() {
        AuditEvent event = AuditEvents.render(AuditRecord.now(AuditAction.REFUSED, 403, "client-2", "Observation",
                "needs scope system/Observation.rs", 0, 0), "7", "bulk-fhir");
        assertEquals(AuditEvent.AuditEventOutcome._4, event.getOutcome());
        assertEquals("HTTP 403", event.getOutcomeDesc());
        assertEquals(AuditEvent.AuditEventAction.E, event.getAction());
        // A path, not a reference: kept as an identifier.
        assertNull(event.getEntityFirstRep().getWhat().getReference());
        assertEquals("Observation", event.getEntityFirstRep().getWhat().getIdentifier().getValue());
        // Even one that looks like a reference: what a refused request names may not exist.
        AuditEvent notFound = AuditEvents.render(AuditRecord.now(AuditAction.REFUSED, 404, "c", "Patient/nobody",
                null, 0, 0), null, "bulk-fhir");
        assertNull(notFound.getEntityFirstRep().getWhat().getReference());
        assertEquals("Patient/nobody", notFound.getEntityFirstRep().getWhat().getIdentifier().getValue());
    }

    @Test
    void anExportFileIsAnIdentifierForItGoesWithItsJob() {
        String file = "Binary/bulk-" + "0123456789abcdef".repeat(2);
        AuditEvent event = AuditEvents.render(AuditRecord.now(AuditAction.FILE_DOWNLOAD, 200, "c", file, null, 0, 10),
                null, "bulk-fhir");
        assertNull(event.getEntityFirstRep().getWhat().getReference());
        assertEquals(file, event.getEntityFirstRep().getWhat().getIdentifier().getValue());
    }

    @Test
    void aTokenEventIsAnAuthenticationOfIheGetAccessToken() {
        AuditEvent issued = AuditEvents.render(AuditRecord.now(AuditAction.TOKEN_ISSUED, 200, "c", null,
                "system/*.rs", 0, 0), null, "bulk-fhir");
        assertCoding(issued.getType(), "http://dicom.nema.org/resources/ontology/DCM", "110114");
        assertCoding(issued.getSubtype().get(0), "urn:ihe:event-type-code", "ITI-71");
        assertEquals(AuditEvent.AuditEventOutcome._0, issued.getOutcome());
        AuditEvent refused = AuditEvents.render(AuditRecord.now(AuditAction.TOKEN_REFUSED, 400, null, null,
                "invalid_client", 0, 0), null, "bulk-fhir");
        assertEquals(AuditEvent.AuditEventOutcome._4, refused.getOutcome());
        // No client known: the server is the only agent, and the requestor.
        assertEquals(1, refused.getAgent().size());
        assertTrue(refused.getAgentFirstRep().getRequestor());
    }

    @Test
    void exportEventsAreAboutTheJobWithTheirCounts() {
        AuditEvent completed = AuditEvents.render(AuditRecord.now(AuditAction.EXPORT_COMPLETED, 0, "c",
                "0a1b2c", "system Patient,Observation", 1234, 0), "9", "bulk-fhir");
        assertCoding(completed.getType(), "http://dicom.nema.org/resources/ontology/DCM", "110106");
        assertCoding(completed.getEntityFirstRep().getRole(), "http://terminology.hl7.org/CodeSystem/object-role", "20");
        assertEquals("0a1b2c", completed.getEntityFirstRep().getWhat().getIdentifier().getValue());
        assertEquals("1234", completed.getEntityFirstRep().getDetailFirstRep().getValue().primitiveValue());
        assertNull(completed.getOutcomeDesc());
        AuditEvent cancelled = AuditEvents.render(AuditRecord.now(AuditAction.EXPORT_CANCELLED, 202, "c", "0a1b2c",
                null, 0, 0), "10", "bulk-fhir");
        assertEquals(AuditEvent.AuditEventAction.D, cancelled.getAction());
        assertCoding(cancelled.getSubtype().get(0), "http://hl7.org/fhir/restful-interaction", "delete");
    }

    @Test
    void everyActionHasACodeThatFindsItAgain() {
        for (AuditAction action : AuditAction.values()) {
            assertEquals(action, AuditAction.ofCode(action.code()));
        }
        assertNull(AuditAction.ofCode("nothing"));
    }

    @Test
    void theWriterHandsOverEveryRecordInBatchesAndDropsWhenFull() throws Exception {
        List<List<AuditRecord>> batches = new CopyOnWriteArrayList<>();
        try (AuditWriter writer = AuditWriter.start("test-audit", 10_000, batch -> batches.add(new ArrayList<>(batch)))) {
            for (int i = 0; i < 5_000; i++) {
                writer.record(AuditRecord.now(AuditAction.BINARY_READ, 200, "c", "Binary/" + i, null, 0, i));
            }
        }
        assertEquals(5_000, batches.stream().mapToInt(List::size).sum());
        assertTrue(batches.stream().allMatch(batch -> batch.size() <= AuditWriter.MAX_BATCH));

        java.util.concurrent.CountDownLatch hold = new java.util.concurrent.CountDownLatch(1);
        try (AuditWriter stuck = AuditWriter.start("test-stuck", 2, batch -> hold.await())) {
            long start = System.nanoTime();
            for (int i = 0; i < 10; i++) {
                stuck.record(AuditRecord.now(AuditAction.REFUSED, 401, null, null, null, 0, 0));
            }
            assertTrue(System.nanoTime() - start < 500_000_000L, "record() never waits");
            // The writer holds at most one record, a drained queue (2) in its stuck batch, and a full queue (2).
            assertTrue(stuck.dropped() >= 5, "a full queue drops instead of blocking: " + stuck.dropped());
            hold.countDown();
        }
    }

    private static void assertCoding(Coding coding, String system, String code) {
        assertEquals(system, coding.getSystem());
        assertEquals(code, coding.getCode());
    }
}
