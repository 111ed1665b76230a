package dev.bulkfhir.storage.source.jpa;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.interceptor.model.RequestPartitionId;
import ca.uhn.fhir.jpa.api.dao.DaoRegistry;
import ca.uhn.fhir.jpa.api.dao.IFhirResourceDao;
import ca.uhn.fhir.jpa.binary.api.IBinaryStorageSvc;
import ca.uhn.fhir.jpa.binary.interceptor.BinaryStorageInterceptor;
import ca.uhn.fhir.jpa.dao.ISearchBuilder;
import ca.uhn.fhir.jpa.dao.SearchBuilderFactory;
import ca.uhn.fhir.jpa.dao.tx.IHapiTransactionService;
import ca.uhn.fhir.jpa.model.dao.JpaPid;
import ca.uhn.fhir.jpa.model.search.SearchRuntimeDetails;
import ca.uhn.fhir.jpa.searchparam.SearchParameterMap;
import ca.uhn.fhir.model.api.ResourceMetadataKeyEnum;
import ca.uhn.fhir.parser.IParser;
import ca.uhn.fhir.rest.api.server.IBundleProvider;
import ca.uhn.fhir.rest.api.server.SimplePreResourceShowDetails;
import ca.uhn.fhir.rest.api.server.SystemRequestDetails;
import ca.uhn.fhir.rest.param.DateParam;
import ca.uhn.fhir.rest.param.DateRangeParam;
import ca.uhn.fhir.rest.param.HistorySearchDateRangeParam;
import ca.uhn.fhir.rest.param.ParamPrefixEnum;
import ca.uhn.fhir.rest.param.TokenOrListParam;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import dev.bulkfhir.storage.resource.PatientCompartment;
import dev.bulkfhir.storage.source.ExportQuery;
import dev.bulkfhir.storage.source.ResourceSink;
import dev.bulkfhir.storage.source.ResourceSource;
import jakarta.persistence.EntityManager;
import jakarta.persistence.EntityManagerFactory;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.instance.model.api.IIdType;
import org.hl7.fhir.r4.model.DateTimeType;
import org.hl7.fhir.r4.model.Group;
import org.hl7.fhir.r4.model.IdType;
import org.springframework.context.ApplicationContext;
import org.springframework.orm.jpa.EntityManagerFactoryUtils;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TimeZone;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * A HAPI JPA server's own data as an export source, read through its DAOs and search builder.
 *
 * <p>Each {@link #stream} runs in one read-only transaction. First the few resources changed after the
 * transaction time, found in the type's history, each in its version as of then (their ids are kept to
 * skip them later); then all the others, as a stream of persistent ids from one database cursor, loaded
 * in batches. A resource that changes while the export runs is seen changed by the second pass and
 * looked up in its history there, so it is exported once. (A resource deleted in the instant between
 * the two passes is missed: the cursor no longer sees it, and the first pass did not yet.) Nothing but
 * a batch is held in memory: the search deduplicates in the database rather than in a set of every id,
 * and the persistence context is cleared after each batch.
 *
 * <p>Content a host with binary storage has moved out of its resources (Binary data, attachments) is put
 * back by HAPI's own {@link BinaryStorageInterceptor}, within its auto-inflation limit (10 MB per resource
 * by default); beyond it a resource is exported as stored, with HAPI's externalized-binary-id extension.
 *
 * <p>Compartment membership is decided on the loaded resource (FHIR's Patient compartment definition),
 * so a Patient-level export reads the whole of each type; a Patient-level export of only some patients
 * narrows the Patient type itself by {@code _id}.
 */
public final class JpaResourceSource implements ResourceSource {

    private static final int BATCH = 500;
    /** The JSON a batch holds at most (about): resources of several megabytes load a few at a time. */
    private static final long BATCH_BYTES = 16L * 1024 * 1024;
    /** Patients looked up by {@code _id} per search at most (some databases limit bind parameters). */
    private static final int ID_CHUNK = 500;

    private final FhirContext context;
    private final DaoRegistry daos;
    private final IHapiTransactionService transactions;
    private final SearchBuilderFactory<JpaPid> searchBuilders;
    private final EntityManagerFactory entityManagers;
    private final BinaryStorageInterceptor<?> binaryInflater;
    private final PatientCompartment compartment;

    /** @param binaryInflater the host's binary storage interceptor, or null if it keeps all content inline */
    public JpaResourceSource(DaoRegistry daos, IHapiTransactionService transactions,
            SearchBuilderFactory<JpaPid> searchBuilders, EntityManagerFactory entityManagers,
            BinaryStorageInterceptor<?> binaryInflater) {
        this.context = daos.getFhirContext();
        this.daos = daos;
        this.transactions = transactions;
        this.searchBuilders = searchBuilders;
        this.entityManagers = entityManagers;
        this.binaryInflater = binaryInflater;
        this.compartment = new PatientCompartment(context);
    }

    /** The source over the HAPI JPA server whose Spring context this is. */
    @SuppressWarnings("unchecked")
    public static JpaResourceSource of(ApplicationContext host) {
        boolean hasBinaryStorage = host.getBeanProvider(IBinaryStorageSvc.class).getIfAvailable() != null;
        return new JpaResourceSource(host.getBean(DaoRegistry.class), host.getBean(IHapiTransactionService.class),
                host.getBean(SearchBuilderFactory.class), host.getBean(EntityManagerFactory.class),
                hasBinaryStorage ? host.getBean(BinaryStorageInterceptor.class) : null);
    }

    @Override
    public void stream(ExportQuery query, ResourceSink sink) throws IOException {
        if (!query.range().all()) {
            throw new IllegalArgumentException("This source does not split types; it streams KeyRange.ALL only");
        }
        if (!daos.isResourceTypeSupported(query.type()) || nothingInScope(query)) {
            return;
        }
        SystemRequestDetails request = SystemRequestDetails.forAllPartitions();
        try {
            transactions.withRequest(request).withRequestPartitionId(RequestPartitionId.allPartitions())
                    .readOnly().execute(() -> {
                        IParser parser = context.newJsonParser();
                        Set<String> changed = streamChangedSince(query, request, parser, sink);
                        streamCurrent(query, changed, request, parser, sink);
                    });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    private boolean nothingInScope(ExportQuery query) {
        if (!query.patientCompartment()) return false;
        if (query.patients() != null && query.patients().isEmpty()) return true;
        return !query.type().equals("Patient") && context.getResourceDefinition(query.type())
                .getSearchParamsForCompartmentName("Patient").isEmpty();
    }

    /**
     * All resources but those already exported as changed: persistent ids from a database cursor, loaded
     * up to {@value #BATCH} at a time, fewer when the resources are large (a batch holds about
     * {@link #BATCH_BYTES} of JSON).
     */
    private void streamCurrent(ExportQuery query, Set<String> changed, SystemRequestDetails request, IParser parser,
            ResourceSink sink) {
        SearchParameterMap search = SearchParameterMap.newSynchronous();
        if (query.since() != null) {
            // Inclusive and to the millisecond; the exact rule (strictly after) is applied to each resource.
            search.setLastUpdated(new DateRangeParam(new DateParam(ParamPrefixEnum.GREATERTHAN_OR_EQUALS,
                    millis(query.since())), null));
        }
        if (query.patientCompartment() && query.type().equals("Patient") && query.patients() != null) {
            for (List<String> chunk : chunks(query.patients())) {
                SearchParameterMap byId = search.clone();
                TokenOrListParam ids = new TokenOrListParam();
                chunk.forEach(id -> ids.add(null, id));
                byId.add("_id", ids);
                streamSearch(byId, query, changed, request, parser, sink);
            }
        } else {
            streamSearch(search, query, changed, request, parser, sink);
        }
    }

    private void streamSearch(SearchParameterMap search, ExportQuery query, Set<String> changed,
            SystemRequestDetails request, IParser parser, ResourceSink sink) {
        IFhirResourceDao<?> dao = daos.getResourceDao(query.type());
        ISearchBuilder<JpaPid> builder = searchBuilders.newSearchBuilder(query.type(), dao.getResourceType());
        // Otherwise the search remembers every id it returned, in a set, to drop duplicates.
        builder.setDeduplicateInDatabase(true);
        EntityManager entityManager = EntityManagerFactoryUtils.getTransactionalEntityManager(entityManagers);
        try (Stream<JpaPid> ids = builder.createQueryStream(search,
                new SearchRuntimeDetails(request, UUID.randomUUID().toString()), request,
                RequestPartitionId.allPartitions())) {
            Iterator<JpaPid> cursor = ids.iterator();
            List<JpaPid> batch = new ArrayList<>(BATCH);
            int batchSize = 8; // until the size of the resources is known
            int largest = 1;
            while (cursor.hasNext()) {
                batch.add(cursor.next());
                if (batch.size() >= batchSize || !cursor.hasNext()) {
                    List<IBaseResource> resources = new ArrayList<>(batch.size());
                    builder.loadResourcesByPid(batch, List.of(), resources, false, request);
                    for (int i = 0; i < resources.size(); i++) {
                        IBaseResource resource = resources.set(i, null); // each goes once written
                        if (changed.contains(resource.getIdElement().getIdPart())) continue;
                        if (lastUpdated(resource).isAfter(query.asOf())) {
                            // changed since the history pass: export the version as of then
                            resource = versionAt(dao, resource.getIdElement().getIdPart(), query.asOf(), request);
                        }
                        if (resource != null && !isDeleted(resource)) {
                            largest = Math.max(largest, emitIfWanted(resource, query, parser, sink));
                        }
                    }
                    batchSize = (int) Math.max(1, Math.min(BATCH, BATCH_BYTES / largest));
                    batch.clear();
                    entityManager.clear(); // read-only: nothing to flush, and the loaded versions would pile up
                }
            }
        }
    }

    /**
     * Resources changed after the transaction time (updated, deleted or created): their version as of then.
     * Returns their ids, which the cursor pass skips.
     */
    private Set<String> streamChangedSince(ExportQuery query, SystemRequestDetails request, IParser parser,
            ResourceSink sink) {
        IFhirResourceDao<?> dao = daos.getResourceDao(query.type());
        Set<String> changed = new LinkedHashSet<>();
        IBundleProvider history = dao.history(Date.from(query.asOf().plusMillis(1)), null, null, request);
        for (int from = 0; ; from += BATCH) {
            List<IBaseResource> page = history.getResources(from, from + BATCH);
            if (page.isEmpty()) break;
            for (IBaseResource version : page) {
                changed.add(version.getIdElement().getIdPart());
            }
        }
        for (String id : changed) {
            if (query.patientCompartment() && query.type().equals("Patient") && query.patients() != null
                    && !query.patients().contains(id)) {
                continue;
            }
            IBaseResource version = versionAt(dao, id, query.asOf(), request);
            if (version != null && !isDeleted(version)) {
                emitIfWanted(version, query, parser, sink);
            }
        }
        return changed;
    }

    /** Exports the resource if the query wants it; returns the length of its JSON (0 if not exported). */
    private int emitIfWanted(IBaseResource resource, ExportQuery query, IParser parser, ResourceSink sink) {
        if (query.since() != null && !lastUpdated(resource).isAfter(query.since())) {
            return 0;
        }
        if (query.patientCompartment() && !query.inScope(compartment.patientIds(resource))) {
            return 0;
        }
        try {
            if (!inflateBinaries(resource, sink)) return 0;
            byte[] json = json(resource, parser);
            sink.resource(json);
            return json.length;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Puts back content the host's binary storage keeps apart; false (and an error line) if it cannot. */
    private boolean inflateBinaries(IBaseResource resource, ResourceSink sink) throws IOException {
        if (binaryInflater == null) return true;
        try {
            binaryInflater.preShow(new SimplePreResourceShowDetails(resource), null);
            return true;
        } catch (IOException | BaseServerResponseException e) {
            sink.error(resource.getIdElement().toUnqualifiedVersionless().getValue(),
                    "Content kept in the server's binary storage could not be read: " + e.getMessage());
            return false;
        }
    }

    /** One line of canonical JSON, with meta.versionId even where the loaded meta only has it in the id. */
    private static byte[] json(IBaseResource resource, IParser parser) {
        String version = resource.getIdElement().getVersionIdPart();
        if (version != null && resource.getMeta().getVersionId() == null) {
            resource.getMeta().setVersionId(version);
        }
        return parser.encodeResourceToString(resource).getBytes(StandardCharsets.UTF_8);
    }

    /** The version of a resource current at {@code asOf} (possibly a deletion), or null if it did not exist yet. */
    private static IBaseResource versionAt(IFhirResourceDao<?> dao, String id, Instant asOf,
            SystemRequestDetails request) {
        HistorySearchDateRangeParam until = new HistorySearchDateRangeParam(Map.of(),
                new DateRangeParam(null, new DateParam(ParamPrefixEnum.LESSTHAN_OR_EQUALS, millis(asOf))), null);
        try {
            List<IBaseResource> newestFirst = dao.history(new IdType(dao.getResourceType().getSimpleName(), id),
                    until, request).getResources(0, 1);
            return newestFirst.isEmpty() ? null : newestFirst.get(0);
        } catch (ResourceNotFoundException e) {
            return null;
        }
    }

    @Override
    public Optional<Set<String>> groupMembers(String groupId, Instant asOf) {
        // Each DAO call in a transaction of its own: a not-found inside a shared one would mark it rollback-only.
        SystemRequestDetails request = SystemRequestDetails.forAllPartitions();
        IBaseResource version = versionAtOrNull(daos.getResourceDao("Group"), groupId, asOf, request);
        if (version == null || isDeleted(version)) {
            return Optional.empty();
        }
        Set<String> members = new LinkedHashSet<>();
        for (Group.GroupMemberComponent member : ((Group) version).getMember()) {
            IIdType entity = member.getEntity().getReferenceElement();
            if (!member.getInactive() && "Patient".equals(entity.getResourceType()) && entity.hasIdPart()) {
                members.add(entity.getIdPart());
            }
        }
        return Optional.of(members);
    }

    @Override
    public Optional<byte[]> read(String type, String id, Instant asOf) {
        IBaseResource version = versionAtOrNull(daos.getResourceDao(type), id, asOf,
                SystemRequestDetails.forAllPartitions());
        return version == null || isDeleted(version) ? Optional.empty()
                : Optional.of(json(version, context.newJsonParser()));
    }

    @Override
    public Set<String> existingPatients(Set<String> patientIds, Instant asOf) {
        SystemRequestDetails request = SystemRequestDetails.forAllPartitions();
        IFhirResourceDao<?> dao = daos.getResourceDao("Patient");
        Set<String> existing = new HashSet<>();
        for (List<String> chunk : chunks(patientIds)) {
            // Current and unchanged since asOf in one search; the rest one by one from their history.
            SearchParameterMap search = SearchParameterMap.newSynchronous();
            TokenOrListParam ids = new TokenOrListParam();
            chunk.forEach(id -> ids.add(null, id));
            search.add("_id", ids);
            Set<String> unresolved = new HashSet<>(chunk);
            for (IBaseResource patient : dao.searchForResources(search, request)) {
                if (!lastUpdated(patient).isAfter(asOf)) {
                    String id = patient.getIdElement().getIdPart();
                    existing.add(id);
                    unresolved.remove(id);
                }
            }
            for (String id : unresolved) {
                IBaseResource version = versionAtOrNull(dao, id, asOf, request);
                if (version != null && !isDeleted(version)) existing.add(id);
            }
        }
        return existing;
    }

    /** Like {@link #versionAt}, and null for an id the server refuses (e.g. not a valid FHIR id). */
    private static IBaseResource versionAtOrNull(IFhirResourceDao<?> dao, String id, Instant asOf,
            SystemRequestDetails request) {
        try {
            return versionAt(dao, id, asOf, request);
        } catch (BaseServerResponseException e) {
            return null;
        }
    }

    @Override
    public boolean hasData(String type) {
        if (!daos.isResourceTypeSupported(type)) {
            return false;
        }
        // Any version at all, deletions included: a resource deleted after an export's transaction time
        // still belongs in it.
        SystemRequestDetails request = SystemRequestDetails.forAllPartitions();
        return !daos.getResourceDao(type).history(null, null, null, request).getResources(0, 1).isEmpty();
    }

    private static boolean isDeleted(IBaseResource resource) {
        return ResourceMetadataKeyEnum.DELETED_AT.get(resource) != null;
    }

    private static Instant lastUpdated(IBaseResource resource) {
        return resource.getMeta().getLastUpdated().toInstant();
    }

    private static DateTimeType millis(Instant instant) {
        return new DateTimeType(Date.from(instant), ca.uhn.fhir.model.api.TemporalPrecisionEnum.MILLI,
                TimeZone.getTimeZone("UTC"));
    }

    private static List<List<String>> chunks(Set<String> ids) {
        List<String> all = new ArrayList<>(ids);
        List<List<String>> chunks = new ArrayList<>();
        for (int from = 0; from < all.size(); from += ID_CHUNK) {
            chunks.add(all.subList(from, Math.min(all.size(), from + ID_CHUNK)));
        }
        return chunks;
    }
}
