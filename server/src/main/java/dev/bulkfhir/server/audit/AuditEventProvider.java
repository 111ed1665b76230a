package dev.bulkfhir.server.audit;

import ca.uhn.fhir.rest.annotation.Count;
import ca.uhn.fhir.rest.annotation.IdParam;
import ca.uhn.fhir.rest.annotation.OptionalParam;
import ca.uhn.fhir.rest.annotation.Read;
import ca.uhn.fhir.rest.annotation.Search;
import ca.uhn.fhir.rest.api.server.RequestDetails;
import ca.uhn.fhir.rest.param.DateRangeParam;
import ca.uhn.fhir.rest.param.NumberParam;
import ca.uhn.fhir.rest.param.ReferenceParam;
import ca.uhn.fhir.rest.server.IResourceProvider;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import dev.bulkfhir.providers.audit.AuditEvents;
import org.hl7.fhir.r4.model.AuditEvent;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.IdType;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Date;
import java.util.List;
import java.util.Map;

/**
 * {@code GET AuditEvent/[id]} and {@code GET AuditEvent?date=&agent=&entity=}, rendered from the audit
 * table. The bearer interceptor lets only a client with a scope naming AuditEvent this far (a
 * {@code *} scope does not cover it). Pages run in recording order; a next link carries the last id
 * seen ({@code _after}), so paging needs no state on the server.
 */
public final class AuditEventProvider implements IResourceProvider {

    static final int DEFAULT_PAGE = 50;
    static final int MAX_PAGE = 1000;

    private final AuditTable table;
    private final String observer;

    AuditEventProvider(AuditTable table, String observer) {
        this.table = table;
        this.observer = observer;
    }

    @Override
    public Class<AuditEvent> getResourceType() {
        return AuditEvent.class;
    }

    @Read
    public AuditEvent read(@IdParam IdType id) {
        long rowId;
        try {
            rowId = Long.parseLong(id.getIdPart());
        } catch (NumberFormatException e) {
            rowId = -1;
        }
        AuditTable.Row row = rowId > 0 ? table.read(rowId).orElse(null) : null;
        if (row == null) {
            throw new ResourceNotFoundException("AuditEvent/" + id.getIdPart() + " is not known to this server (it may"
                    + " have been purged after the retention period).");
        }
        return render(row);
    }

    /**
     * @param agent  the client id ({@code agent=my-client}; a reference's id part counts)
     * @param entity what the event was about, e.g. {@code Binary/123}, or an export job id
     */
    @Search
    public Bundle search(@OptionalParam(name = AuditEvent.SP_DATE) DateRangeParam date,
            @OptionalParam(name = AuditEvent.SP_AGENT) ReferenceParam agent,
            @OptionalParam(name = AuditEvent.SP_ENTITY) ReferenceParam entity,
            @OptionalParam(name = "_after") NumberParam after,
            @Count Integer count, RequestDetails request) {
        int size = count == null ? DEFAULT_PAGE : Math.min(count, MAX_PAGE);
        Date from = date == null ? null : date.getLowerBoundAsInstant();
        Date to = date == null ? null : date.getUpperBoundAsInstant();
        long afterId = 0;
        if (after != null && after.getValue() != null) {
            try {
                afterId = after.getValue().longValueExact();
            } catch (ArithmeticException e) {
                throw new InvalidRequestException("_after must be a whole number: an AuditEvent id from a next link.");
            }
        }
        AuditTable.Filter filter = new AuditTable.Filter(from == null ? null : from.getTime(),
                to == null ? null : to.getTime(), agent == null ? null : agent.getIdPart(),
                entity == null ? null : entity.getValue(), afterId);
        Bundle bundle = new Bundle().setType(Bundle.BundleType.SEARCHSET);
        String base = request.getFhirServerBase() + "/AuditEvent";
        bundle.addLink().setRelation("self").setUrl(request.getCompleteUrl());
        if (size == 0) {
            return bundle;
        }
        List<AuditTable.Row> rows = table.search(filter, size + 1);
        for (AuditTable.Row row : rows.subList(0, Math.min(size, rows.size()))) {
            AuditEvent event = render(row);
            bundle.addEntry().setFullUrl(base + "/" + row.id()).setResource(event)
                    .getSearch().setMode(Bundle.SearchEntryMode.MATCH);
        }
        if (rows.size() > size) {
            bundle.addLink().setRelation("next").setUrl(next(base, request, rows.get(size - 1).id()));
        }
        return bundle;
    }

    private static String next(String base, RequestDetails request, long lastId) {
        StringBuilder url = new StringBuilder(base).append('?');
        for (Map.Entry<String, String[]> parameter : request.getParameters().entrySet()) {
            if (parameter.getKey().equals("_after")) continue;
            for (String value : parameter.getValue()) {
                url.append(URLEncoder.encode(parameter.getKey(), StandardCharsets.UTF_8)).append('=')
                        .append(URLEncoder.encode(value, StandardCharsets.UTF_8)).append('&');
            }
        }
        return url.append("_after=").append(lastId).toString();
    }

    AuditEvent render(AuditTable.Row row) {
        AuditEvent event = AuditEvents.render(row.record(), Long.toString(row.id()), observer);
        event.getMeta().setVersionId("1").setLastUpdated(new Date(row.record().time()));
        return event;
    }
}
