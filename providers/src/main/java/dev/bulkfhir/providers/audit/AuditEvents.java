package dev.bulkfhir.providers.audit;

import dev.bulkfhir.storage.export.ExportFileStore;
import org.hl7.fhir.r4.model.AuditEvent;
import org.hl7.fhir.r4.model.Coding;
import org.hl7.fhir.r4.model.Identifier;
import org.hl7.fhir.r4.model.Reference;

import java.util.Date;

/**
 * Renders an {@link AuditRecord} as an R4 AuditEvent in the style of IHE BALP: the client as the
 * requesting agent (Source Role ID, its OAuth client id as identifier), this server as the
 * Destination Role ID and the observer, and what the event was about as an entity (a System Object
 * in the role of a Domain Resource, or of a Job for an export), with the detail, count and bytes as
 * entity details.
 */
public final class AuditEvents {

    public static final String ACTION_SYSTEM = "https://bulkfhir.dev/fhir/CodeSystem/audit-action";
    /** The identifier system of a client's id (an OAuth 2.0 client_id). */
    public static final String CLIENT_ID_SYSTEM = "urn:ietf:params:oauth:client-id";

    private static final String DCM = "http://dicom.nema.org/resources/ontology/DCM";
    private static final String INTERACTION = "http://hl7.org/fhir/restful-interaction";
    private static final String ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type";
    private static final String OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role";
    private static final String SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type";

    private AuditEvents() {
    }

    /**
     * @param id       the AuditEvent's id, or null
     * @param observer who recorded it (this server: its name or base URL)
     */
    public static AuditEvent render(AuditRecord record, String id, String observer) {
        AuditAction action = record.action();
        AuditEvent event = new AuditEvent();
        if (id != null) {
            event.setId(id);
        }
        AuditAction.Type type = action.type();
        event.setType(new Coding(type.system, type.code, type.display));
        if (action.interaction() != null) {
            event.addSubtype(new Coding(INTERACTION, action.interaction(), action.interaction()));
        }
        if (type == AuditAction.Type.AUTHENTICATION) {
            event.addSubtype(new Coding("urn:ihe:event-type-code", "ITI-71", "Get Access Token"));
        }
        event.addSubtype(new Coding(ACTION_SYSTEM, action.code(), null));
        event.setAction(AuditEvent.AuditEventAction.fromCode(action.actionCode()));
        event.setRecorded(new Date(record.time()));
        event.setOutcome(outcome(record));
        if (record.status() != 0) {
            event.setOutcomeDesc("HTTP " + record.status());
        }

        if (record.client() != null) {
            AuditEvent.AuditEventAgentComponent client = event.addAgent();
            client.getType().addCoding(new Coding(DCM, "110153", "Source Role ID"));
            client.setWho(new Reference().setIdentifier(new Identifier().setSystem(CLIENT_ID_SYSTEM)
                    .setValue(record.client())).setDisplay(record.client()));
            client.setRequestor(true);
        }
        AuditEvent.AuditEventAgentComponent server = event.addAgent();
        server.getType().addCoding(new Coding(DCM, "110152", "Destination Role ID"));
        server.setWho(new Reference().setDisplay(observer));
        server.setRequestor(record.client() == null);

        event.getSource().setObserver(new Reference().setDisplay(observer))
                .addType(new Coding(SOURCE_TYPE, "4", "Application Server"));

        if (record.entity() != null || record.detail() != null || record.count() != 0 || record.bytes() != 0) {
            AuditEvent.AuditEventEntityComponent entity = event.addEntity();
            entity.setType(new Coding(ENTITY_TYPE, "2", "System Object"));
            boolean job = action.name().startsWith("EXPORT_");
            entity.setRole(job ? new Coding(OBJECT_ROLE, "20", "Job") : new Coding(OBJECT_ROLE, "4", "Domain Resource"));
            if (record.entity() != null) {
                // A refused request may name what does not exist, and an export file is gone with its job (and
                // no resource of a host's store, whose referential integrity would refuse the event): those are
                // identifiers, not references to follow.
                boolean reference = action != AuditAction.REFUSED && isReference(record.entity())
                        && !ExportFileStore.isFileId(record.entity().substring(record.entity().indexOf('/') + 1));
                entity.setWhat(reference ? new Reference(record.entity())
                        : new Reference().setIdentifier(new Identifier().setValue(record.entity())));
            }
            if (record.detail() != null) {
                entity.setDescription(record.detail());
            }
            if (record.count() != 0) {
                entity.addDetail().setType("count").setValue(new org.hl7.fhir.r4.model.StringType(
                        Long.toString(record.count())));
            }
            if (record.bytes() != 0) {
                entity.addDetail().setType("bytes").setValue(new org.hl7.fhir.r4.model.StringType(
                        Long.toString(record.bytes())));
            }
        }
        return event;
    }

    /** 0 success, 4 minor failure (a client error or refusal), 8 serious failure (a server error). */
    static AuditEvent.AuditEventOutcome outcome(AuditRecord record) {
        if (record.status() >= 500) return AuditEvent.AuditEventOutcome._8;
        return record.failed() ? AuditEvent.AuditEventOutcome._4 : AuditEvent.AuditEventOutcome._0;
    }

    /** {@code Type/id}: a resource reference rather than a job id or a path. */
    static boolean isReference(String entity) {
        int slash = entity.indexOf('/');
        return slash > 0 && slash == entity.lastIndexOf('/') && Character.isUpperCase(entity.charAt(0))
                && slash < entity.length() - 1;
    }
}
