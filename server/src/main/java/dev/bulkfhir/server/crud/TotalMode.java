package dev.bulkfhir.server.crud;

import ca.uhn.fhir.rest.api.Constants;
import ca.uhn.fhir.rest.api.server.RequestDetails;

/**
 * FHIR R4's {@code _total} modes. Not HAPI's {@code SearchTotalModeEnum}: that spells the estimate
 * {@code estimated} and reads FHIR's {@code estimate} as no mode at all. Its spelling is taken too,
 * as HAPI's clients send it.
 */
enum TotalMode {
    NONE, ESTIMATE, ACCURATE;

    /** The mode a {@code _total} value names; null if none. */
    static TotalMode parse(String code) {
        return switch (code) {
            case "none" -> NONE;
            case "estimate", "estimated" -> ESTIMATE;
            case "accurate" -> ACCURATE;
            default -> null;
        };
    }

    /** The request's mode: {@link #NONE} without {@code _total} (the checks have refused unknown ones). */
    static TotalMode of(RequestDetails request) {
        String[] values = request.getParameters().get(Constants.PARAM_SEARCH_TOTAL_MODE);
        TotalMode mode = values == null || values.length == 0 ? null : parse(values[0]);
        return mode == null ? NONE : mode;
    }
}
