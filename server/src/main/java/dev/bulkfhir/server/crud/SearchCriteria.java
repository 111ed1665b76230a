package dev.bulkfhir.server.crud;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.param.DateRangeParam;
import ca.uhn.fhir.rest.param.ReferenceParam;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import dev.bulkfhir.storage.resource.ResourceQuery;
import dev.bulkfhir.storage.resource.ResourceStore;
import dev.bulkfhir.storage.resource.StoredResource;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

/**
 * A search, reduced to what the store evaluates, in a form that fits in a paging link. The
 * link carries the whole search (no server-side state), so it stays valid across restarts and
 * on every node; the page id carries the storage position, so it stays valid while data changes.
 */
record SearchCriteria(
        String type, Set<String> ids, Long updatedFrom, Long updatedBefore, String patient, String subject) {

    static SearchCriteria of(FhirContext context, String type, Set<String> ids, DateRangeParam lastUpdated,
            ReferenceParam patient, ReferenceParam subject) {
        Long from = null;
        Long before = null;
        if (lastUpdated != null) {
            if (lastUpdated.getLowerBoundAsInstant() != null) {
                from = lastUpdated.getLowerBoundAsInstant().getTime();
            }
            if (lastUpdated.getUpperBoundAsInstant() != null) {
                // The upper bound is the last instant included.
                before = lastUpdated.getUpperBoundAsInstant().getTime() + 1;
            }
        }
        Set<String> validIds = new LinkedHashSet<>();
        for (String id : ids) {
            if (ResourceStore.isValidId(id)) validIds.add(id);
        }
        SearchCriteria criteria = new SearchCriteria(type, ids.isEmpty() ? Set.of() : validIds, from, before,
                reference(patient), reference(subject));
        if (!ids.isEmpty() && validIds.isEmpty()) {
            criteria = new SearchCriteria(type, Set.of("-"), from, before, criteria.patient, criteria.subject);
        }
        // Refuse parameters this type does not have before running anything.
        criteria.matchers(context);
        return criteria;
    }

    private static String reference(ReferenceParam param) {
        if (param == null || param.getIdPart() == null) return null;
        String resourceType = param.getResourceType();
        return resourceType == null ? param.getIdPart() : resourceType + "/" + param.getIdPart();
    }

    ResourceQuery toQuery(FhirContext context, int count, ResourceQuery.Cursor cursor) {
        List<ReferenceMatcher> matchers = matchers(context);
        Predicate<StoredResource> filter = null;
        if (!matchers.isEmpty()) {
            filter = stored -> {
                var resource = new StoredResources(context).parse(stored);
                return matchers.stream().allMatch(matcher -> matcher.matches(resource));
            };
        }
        String compartmentPatient = patient != null ? idPart(patient)
                : subject != null && subject.startsWith("Patient/") ? idPart(subject) : null;
        return new ResourceQuery(type, ids,
                updatedFrom == null ? null : Instant.ofEpochMilli(updatedFrom),
                updatedBefore == null ? null : Instant.ofEpochMilli(updatedBefore),
                compartmentPatient, filter, count, cursor);
    }

    private List<ReferenceMatcher> matchers(FhirContext context) {
        List<ReferenceMatcher> matchers = new ArrayList<>();
        if (patient != null) matchers.add(ReferenceMatcher.of(context, type, "patient", patient));
        if (subject != null) matchers.add(ReferenceMatcher.of(context, type, "subject", subject));
        return matchers;
    }

    private static String idPart(String reference) {
        return reference.substring(reference.indexOf('/') + 1);
    }

    /** The search as one URL-safe token (the paging link's search id). */
    String encode() {
        String text = String.join("\n", type, String.join(",", ids), String.valueOf(updatedFrom),
                String.valueOf(updatedBefore), String.valueOf(patient), String.valueOf(subject));
        return Base64.getUrlEncoder().withoutPadding().encodeToString(text.getBytes(StandardCharsets.UTF_8));
    }

    static SearchCriteria decode(FhirContext context, String token) {
        try {
            String[] parts = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8).split("\n", -1);
            if (parts.length != 6 || context.getResourceTypes().stream().noneMatch(parts[0]::equals)) {
                throw new IllegalArgumentException();
            }
            Set<String> ids = parts[1].isEmpty() ? Set.of() : new LinkedHashSet<>(List.of(parts[1].split(",")));
            return new SearchCriteria(parts[0], ids, parseLong(parts[2]), parseLong(parts[3]), nullable(parts[4]),
                    nullable(parts[5]));
        } catch (IllegalArgumentException e) {
            throw new InvalidRequestException("Invalid or corrupted paging link (_getpages).");
        }
    }

    private static Long parseLong(String text) {
        return "null".equals(text) ? null : Long.valueOf(text);
    }

    private static String nullable(String text) {
        return "null".equals(text) ? null : text;
    }
}
