package dev.bulkfhir.providers.audit;

import java.util.Locale;

/**
 * What an audit record says happened, and how it maps to an R4 AuditEvent in the style of IHE
 * Basic Audit Log Patterns (BALP): the event {@code type} and {@code action}, and a
 * {@code subtype} from FHIR's RESTful interactions where the event is one. Each record also carries
 * its own {@link #code()} as a second subtype, so that events of one kind can be told apart.
 */
public enum AuditAction {

    /** The token endpoint issued an access token (IHE IUA Get Access Token). */
    TOKEN_ISSUED(Type.AUTHENTICATION, null, "E"),
    /** The token endpoint refused a token request. */
    TOKEN_REFUSED(Type.AUTHENTICATION, null, "E"),
    /** A {@code $export} was accepted. */
    EXPORT_KICKOFF(Type.REST, "operation", "E"),
    /** An export job finished and its files are ready. */
    EXPORT_COMPLETED(Type.EXPORT, null, "E"),
    /** Its client cancelled an export (DELETE on the status URL). */
    EXPORT_CANCELLED(Type.REST, "delete", "D"),
    /** An export expired and its files were deleted. */
    EXPORT_EXPIRED(Type.EXPORT, null, "D"),
    /** An export file was downloaded. */
    FILE_DOWNLOAD(Type.REST, "read", "R"),
    /** A Binary was read (native or wrapped). */
    BINARY_READ(Type.REST, "read", "R"),
    /** A request was refused: 401, 403, or 404 on data the client does not own or that does not exist. */
    REFUSED(Type.REST, null, "E");

    /** The event type codings (system, code, display). */
    enum Type {
        REST("http://terminology.hl7.org/CodeSystem/audit-event-type", "rest", "Restful Operation"),
        AUTHENTICATION("http://dicom.nema.org/resources/ontology/DCM", "110114", "User Authentication"),
        EXPORT("http://dicom.nema.org/resources/ontology/DCM", "110106", "Export");

        final String system;
        final String code;
        final String display;

        Type(String system, String code, String display) {
            this.system = system;
            this.code = code;
            this.display = display;
        }
    }

    private final Type type;
    private final String interaction;
    private final String actionCode;
    private final String code;

    AuditAction(Type type, String interaction, String actionCode) {
        this.type = type;
        this.interaction = interaction;
        this.actionCode = actionCode;
        this.code = name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    Type type() {
        return type;
    }

    /** The FHIR RESTful interaction ({@code http://hl7.org/fhir/restful-interaction}), or null. */
    String interaction() {
        return interaction;
    }

    /** AuditEvent.action: C, R, U, D or E. */
    String actionCode() {
        return actionCode;
    }

    /** This action's own code, e.g. {@code export-kickoff}: stored in the audit table and used as a subtype. */
    public String code() {
        return code;
    }

    /** The action with {@code code}, or null. */
    public static AuditAction ofCode(String code) {
        for (AuditAction action : values()) {
            if (action.code.equals(code)) {
                return action;
            }
        }
        return null;
    }
}
