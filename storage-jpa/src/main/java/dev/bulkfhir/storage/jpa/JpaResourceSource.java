package dev.bulkfhir.storage.jpa;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.RuntimeSearchParam;
import ca.uhn.fhir.interceptor.model.RequestPartitionId;
import ca.uhn.fhir.jpa.api.dao.DaoRegistry;
import ca.uhn.fhir.jpa.api.dao.IFhirResourceDao;
import ca.uhn.fhir.jpa.binary.api.IBinaryStorageSvc;
import ca.uhn.fhir.jpa.binary.interceptor.BinaryStorageInterceptor;
import ca.uhn.fhir.jpa.dao.ISearchBuilder;
import ca.uhn.fhir.jpa.dao.SearchBuilderFactory;
import ca.uhn.fhir.jpa.dao.tx.IHapiTransactionService;
import ca.uhn.fhir.jpa.model.config.PartitionSettings;
import ca.uhn.fhir.jpa.model.dao.JpaPid;
import ca.uhn.fhir.jpa.model.util.JpaConstants;
import ca.uhn.fhir.jpa.partition.IPartitionLookupSvc;
import ca.uhn.fhir.jpa.model.search.SearchRuntimeDetails;
import ca.uhn.fhir.jpa.searchparam.MatchUrlService;
import ca.uhn.fhir.jpa.searchparam.SearchParameterMap;
import ca.uhn.fhir.model.api.ResourceMetadataKeyEnum;
import ca.uhn.fhir.parser.IParser;
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
import jakarta.persistence.EntityManagerFactory;
import javax.sql.DataSource;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.instance.model.api.IIdType;
import org.hl7.fhir.r4.model.DateTimeType;
import org.hl7.fhir.r4.model.Group;
import org.hl7.fhir.r4.model.IdType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.ApplicationContext;
import org.springframework.orm.jpa.EntityManagerFactoryUtils;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.BitSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.TimeZone;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * A HAPI JPA server's own data as an export source: HAPI 8.8's tables read directly, HAPI's DAOs where
 * the stored form cannot be used as it is.
 *
 * <p><b>What it reads.</b> Each {@link #stream} reads, in one database snapshot (a transaction of its
 * own on the host's {@link DataSource}: H2 {@code SNAPSHOT}, PostgreSQL {@code REPEATABLE READ}), first
 * the current version of every resource of the type not changed since the transaction time
 * ({@code HFJ_RESOURCE} joined to its {@code HFJ_RES_VER} row), then the ids of those changed after it.
 * The first are exported from the text HAPI stored (inline or compressed JSON), with {@code id} and
 * {@code meta} (versionId, lastUpdated, source) put in as HAPI's read does, without parsing; those with
 * tags, profiles or security labels, another encoding, or content kept in the host's binary storage are
 * loaded through HAPI's search builder instead, {@value #FALLBACK_BATCH} at a time (and HAPI's
 * {@link BinaryStorageInterceptor} puts externalized content back, within its auto-inflation limit). The
 * changed ones, few, are each read from their history through the DAO in their version as of the
 * transaction time.
 *
 * <p><b>Patient and Group exports</b> select the patients' compartments through HAPI's reference index
 * ({@code HFJ_RES_LINK}, under the paths of the type's Patient compartment search parameters), the patients
 * {@value #ID_CHUNK} at a time: a Group of a few patients reads only their resources. A Patient-level export
 * of every patient keeps the resources with any Patient reference at those paths.
 *
 * <p><b>Consistency.</b> The export is as of its transaction time T: each resource in its version current
 * at T, none created after T or deleted at T, each once, whatever is written while it runs. Since HAPI
 * stamps a write when its transaction begins, the snapshot is taken no earlier than T plus the write grace
 * ({@link #withWriteGrace}); a write stamped at or before T that commits later than that is missed.
 */
public final class JpaResourceSource implements ResourceSource {

    private static final Logger log = LoggerFactory.getLogger(JpaResourceSource.class);

    /** Resources loaded through HAPI's search builder at once where their stored form cannot be used. */
    private static final int FALLBACK_BATCH = 50;
    /** How long after its stamp a HAPI write may still commit, by default (see {@link #withWriteGrace}). */
    public static final Duration DEFAULT_WRITE_GRACE = Duration.ofSeconds(2);
    /** Patients looked up by {@code _id} per search at most (some databases limit bind parameters). */
    private static final int ID_CHUNK = 200;

    private final FhirContext context;
    private final DaoRegistry daos;
    private final IHapiTransactionService transactions;
    private final SearchBuilderFactory<JpaPid> searchBuilders;
    private final EntityManagerFactory entityManagers;
    private final PartitionSettings partitionSettings;
    private final IPartitionLookupSvc partitions;
    /** Turns a {@code _typeFilter} query into HAPI's search. */
    private final MatchUrlService matchUrls;
    /** The host's database, for reading HAPI's tables in one snapshot. */
    private final DataSource dataSource;
    private final BinaryStorageInterceptor<?> binaryInflater;
    private final PatientCompartment compartment;
    private final Map<String, List<String>> pathsByType = new ConcurrentHashMap<>();
    private Duration writeGrace = DEFAULT_WRITE_GRACE;

    /** @param binaryInflater the host's binary storage interceptor, or null if it keeps all content inline */
    public JpaResourceSource(DaoRegistry daos, IHapiTransactionService transactions,
            SearchBuilderFactory<JpaPid> searchBuilders, MatchUrlService matchUrls, EntityManagerFactory entityManagers,
            DataSource dataSource, PartitionSettings partitionSettings, IPartitionLookupSvc partitions,
            BinaryStorageInterceptor<?> binaryInflater) {
        this.matchUrls = matchUrls;
        this.partitionSettings = partitionSettings;
        this.partitions = partitions;
        this.dataSource = dataSource;
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
                host.getBean(SearchBuilderFactory.class), host.getBean(MatchUrlService.class),
                host.getBean(EntityManagerFactory.class),
                host.getBean(DataSource.class), host.getBean(PartitionSettings.class),
                host.getBean(IPartitionLookupSvc.class), hasBinaryStorage ? host.getBean(BinaryStorageInterceptor.class) : null);
    }

    /**
     * How long after its lastUpdated stamp a write of the host may still commit (its longest write
     * transaction, e.g. a large transaction Bundle): an export waits until its transaction time is this far
     * in the past before it reads, so that no write stamped before it is missed. Default
     * {@link #DEFAULT_WRITE_GRACE}.
     */
    public JpaResourceSource withWriteGrace(Duration grace) {
        this.writeGrace = grace;
        return this;
    }

    @Override
    public void stream(ExportQuery query, ResourceSink sink) throws IOException {
        if (!query.range().all()) {
            throw new IllegalArgumentException("This source does not split types; it streams KeyRange.ALL only");
        }
        if (!daos.isResourceTypeSupported(query.type()) || nothingInScope(query)) {
            return;
        }
        awaitWritesStampedBefore(query.asOf());
        RequestPartitionId partition = partition(query.partition());
        SystemRequestDetails request = requestIn(partition);
        Emitter emitter = new Emitter(query, sink, request);
        // Before the snapshot: what matches now and is unchanged at the snapshot matched at the transaction time.
        BitSet matching = matchingTypeFilters(query, request);
        List<String> changed;
        try (Connection connection = dataSource.getConnection()) {
            // One snapshot for the current rows and the changed ones: a resource changing meanwhile is seen
            // once, by one of the passes.
            Snapshot snapshot = Snapshot.begin(connection);
            try {
                HapiTables tables = new HapiTables(connection, HapiTables.partitionCondition(partition),
                        binaryInflater != null);
                if (matching != null) {
                    streamMatching(tables, query, matching, emitter);
                } else {
                    streamUnchanged(tables, query, emitter);
                }
                changed = tables.changedAfter(query.type(), query.asOf());
            } finally {
                snapshot.end();
            }
        } catch (SQLException e) {
            throw new IllegalStateException("Reading the HAPI JPA tables failed: " + e.getMessage(), e);
        }
        try {
            emitter.flush();
            streamChanged(changed, query, emitter);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /**
     * Waits until {@code asOf} is {@link #writeGrace} in the past: HAPI stamps a write when its transaction
     * begins, so a write stamped at or before {@code asOf} may commit a little after it, and the snapshot
     * must see it.
     */
    private void awaitWritesStampedBefore(Instant asOf) {
        long wait = asOf.plus(writeGrace).toEpochMilli() - System.currentTimeMillis();
        if (wait <= 0) return;
        try {
            Thread.sleep(wait);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while waiting for writes to settle", e);
        }
    }

    private boolean nothingInScope(ExportQuery query) {
        if (!query.patientCompartment()) return false;
        if (query.patients() != null && query.patients().isEmpty()) return true;
        return !query.type().equals("Patient") && compartmentPaths(query.type()).isEmpty();
    }

    /**
     * Resources unchanged since the transaction time, straight from HAPI's tables in their stored form;
     * a Patient or Group export selects its patients' compartments through HAPI's reference index,
     * {@value #ID_CHUNK} patients at a time.
     */
    private void streamUnchanged(HapiTables tables, ExportQuery query, Emitter emitter)
            throws SQLException, IOException {
        List<String> paths = compartmentPaths(query.type());
        if (!query.patientCompartment()) {
            tables.current(query.type(), query.since(), query.asOf(), null, List.of(), emitter::current);
        } else if (query.patients() == null) {
            List<Object> params = new ArrayList<>();
            String scope = query.type().equals("Patient") ? null : HapiTables.anyPatient(paths, params);
            tables.current(query.type(), query.since(), query.asOf(), scope, params, emitter::current);
        } else {
            // A resource in the compartments of patients of two chunks comes up twice: the second time is skipped.
            BitSet seen = new BitSet();
            Set<Long> seenBeyond = new HashSet<>();
            HapiTables.RowHandler once = current -> {
                boolean first = current.pid() <= Integer.MAX_VALUE ? !seen.get((int) current.pid())
                        : seenBeyond.add(current.pid());
                if (current.pid() <= Integer.MAX_VALUE) seen.set((int) current.pid());
                if (first) emitter.current(current);
            };
            for (List<String> chunk : chunks(query.patients())) {
                List<Long> pids = tables.patientPids(chunk);
                if (pids.isEmpty()) continue;
                List<Object> params = new ArrayList<>();
                String scope = HapiTables.somePatients(query.type(), paths, pids, params);
                tables.current(query.type(), query.since(), query.asOf(), scope, params, once);
            }
        }
    }

    /**
     * The resources of the query's type that match one of its {@code _typeFilter} queries, by HAPI's own
     * search (its indexes), as a set of persistent ids; null where that is not worth it or not possible: no
     * filter, a compartment of some patients (narrower already), a filter HAPI's search refuses. The export
     * applies the filters to what it is handed either way.
     */
    private BitSet matchingTypeFilters(ExportQuery query, SystemRequestDetails request) {
        if (query.typeFilters().isEmpty() || (query.patientCompartment() && query.patients() != null)) return null;
        IFhirResourceDao<?> dao = daos.getResourceDao(query.type());
        BitSet matching = new BitSet();
        try {
            for (String filter : query.typeFilters()) {
                SearchParameterMap search = matchUrls.translateMatchUrl(filter, context.getResourceDefinition(query.type()));
                search.setLoadSynchronous(true);
                if (query.since() != null && search.getLastUpdated() == null) {
                    search.setLastUpdated(new DateRangeParam(new DateParam(ParamPrefixEnum.GREATERTHAN_OR_EQUALS,
                            millis(query.since())), null));
                }
                transactions.withRequest(request).withRequestPartitionId(request.getRequestPartitionId()).readOnly()
                        .execute(() -> {
                            ISearchBuilder<JpaPid> builder = searchBuilders.newSearchBuilder(query.type(), dao.getResourceType());
                            builder.setDeduplicateInDatabase(true);
                            try (Stream<JpaPid> ids = builder.createQueryStream(search,
                                    new SearchRuntimeDetails(request, UUID.randomUUID().toString()), request,
                                    request.getRequestPartitionId())) {
                                ids.forEach(pid -> matching.set(Math.toIntExact(pid.getId())));
                            }
                        });
            }
            return matching;
        } catch (RuntimeException e) {
            log.debug("Not pushing the _typeFilter of {} into HAPI's search: {}", query.type(), e.toString());
            return null;
        }
    }

    /** The resources unchanged since the transaction time among {@code matching}, a batch of ids at a time. */
    private void streamMatching(HapiTables tables, ExportQuery query, BitSet matching, Emitter emitter)
            throws SQLException, IOException {
        List<Long> batch = new ArrayList<>(ID_CHUNK);
        for (int pid = matching.nextSetBit(0); pid >= 0; pid = matching.nextSetBit(pid + 1)) {
            batch.add((long) pid);
            if (batch.size() == ID_CHUNK || matching.nextSetBit(pid + 1) < 0) {
                List<Object> params = new ArrayList<>();
                String scope = HapiTables.oneOf(batch, params);
                if (query.patientCompartment() && !query.type().equals("Patient")) {
                    scope += " and " + HapiTables.anyPatient(compartmentPaths(query.type()), params);
                }
                tables.current(query.type(), query.since(), query.asOf(), scope, params, emitter::current);
                batch.clear();
            }
        }
    }

    /**
     * Resources changed after the transaction time (updated, deleted or created): few, each read from its
     * history through HAPI's DAO in its version as of then, and judged on that version.
     */
    private void streamChanged(List<String> changed, ExportQuery query, Emitter emitter) {
        IFhirResourceDao<?> dao = daos.getResourceDao(query.type());
        for (String id : changed) {
            if (query.patientCompartment() && query.type().equals("Patient") && query.patients() != null
                    && !query.patients().contains(id)) {
                continue;
            }
            IBaseResource version = versionAt(dao, id, query.asOf(), emitter.request);
            if (version != null && !isDeleted(version)) {
                emitIfWanted(version, query, emitter.parser, emitter.sink);
            }
        }
    }

    /** The paths HAPI indexes the references of the type's Patient compartment parameters under. */
    private List<String> compartmentPaths(String type) {
        return pathsByType.computeIfAbsent(type, t -> {
            Set<String> paths = new LinkedHashSet<>();
            for (RuntimeSearchParam param : context.getResourceDefinition(t).getSearchParamsForCompartmentName("Patient")) {
                for (String path : param.getPathsSplitForResourceType(t)) paths.add(path.trim());
            }
            return List.copyOf(paths);
        });
    }

    /**
     * Hands rows over: those in their stored form at once, the others (tags, externalized content, another
     * encoding) loaded through HAPI's search builder, {@value #FALLBACK_BATCH} at a time.
     */
    private final class Emitter {
        final ExportQuery query;
        final ResourceSink sink;
        final SystemRequestDetails request;
        final IParser parser = context.newJsonParser();
        /** Rows waiting to be loaded through HAPI, by persistent id. */
        private final Map<Long, HapiTables.Current> fallback = new LinkedHashMap<>();
        private ISearchBuilder<JpaPid> builder;

        Emitter(ExportQuery query, ResourceSink sink, SystemRequestDetails request) {
            this.query = query;
            this.sink = sink;
            this.request = request;
        }

        void current(HapiTables.Current current) throws IOException {
            if (current.json() != null) {
                sink.resource(current.json());
                return;
            }
            fallback.put(current.pid(), current);
            if (fallback.size() >= FALLBACK_BATCH) flush();
        }

        /**
         * Loads the waiting rows through HAPI (its own transaction, outside the snapshot): a resource changed
         * since the snapshot is taken from its history in the snapshot's version instead.
         */
        void flush() {
            if (fallback.isEmpty()) return;
            IFhirResourceDao<?> dao = daos.getResourceDao(query.type());
            if (builder == null) builder = searchBuilders.newSearchBuilder(query.type(), dao.getResourceType());
            List<IBaseResource> resources = new ArrayList<>(fallback.size());
            transactions.withRequest(request).withRequestPartitionId(request.getRequestPartitionId()).readOnly()
                    .execute(() -> {
                        builder.loadResourcesByPid(JpaPid.fromLongList(fallback.keySet()), List.of(), resources,
                                false, request);
                        EntityManagerFactoryUtils.getTransactionalEntityManager(entityManagers).clear();
                    });
            Map<String, Long> wanted = new HashMap<>();
            fallback.values().forEach(current -> wanted.put(current.id(), current.version()));
            fallback.clear();
            for (IBaseResource resource : resources) {
                String id = resource.getIdElement().getIdPart();
                if (!String.valueOf(wanted.get(id)).equals(resource.getIdElement().getVersionIdPart())) {
                    resource = versionAt(dao, id, query.asOf(), request);
                }
                try {
                    if (resource != null && inflateBinaries(resource, sink)) sink.resource(json(resource, parser));
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }
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

    /**
     * The partition named, as HAPI knows it; all partitions for null or where the host does not partition.
     *
     * @throws IllegalArgumentException if the host has no partition of that name
     */
    private RequestPartitionId partition(String name) {
        if (name == null || !partitionSettings.isPartitioningEnabled()) return RequestPartitionId.allPartitions();
        if (name.equals(JpaConstants.DEFAULT_PARTITION_NAME)) return RequestPartitionId.defaultPartition(partitionSettings);
        try {
            return partitions.getPartitionByName(name).toRequestPartitionId();
        } catch (ResourceNotFoundException e) {
            throw new IllegalArgumentException("The HAPI JPA server has no partition '" + name + "'", e);
        }
    }

    private static SystemRequestDetails requestIn(RequestPartitionId partition) {
        SystemRequestDetails request = new SystemRequestDetails();
        request.setRequestPartitionId(partition);
        return request;
    }

    @Override
    public Optional<Set<String>> groupMembers(String groupId, Instant asOf) {
        return groupMembers(groupId, asOf, null);
    }

    @Override
    public Optional<Set<String>> groupMembers(String groupId, Instant asOf, String partition) {
        // Each DAO call in a transaction of its own: a not-found inside a shared one would mark it rollback-only.
        SystemRequestDetails request = requestIn(partition(partition));
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
        return existingPatients(patientIds, asOf, null);
    }

    @Override
    public Set<String> existingPatients(Set<String> patientIds, Instant asOf, String partition) {
        SystemRequestDetails request = requestIn(partition(partition));
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
        List<String> all = new ArrayList<>(new TreeSet<>(ids));
        List<List<String>> chunks = new ArrayList<>();
        for (int from = 0; from < all.size(); from += ID_CHUNK) {
            chunks.add(all.subList(from, Math.min(all.size(), from + ID_CHUNK)));
        }
        return chunks;
    }
}
