package dev.bulkfhir.providers.export;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.rest.api.RequestTypeEnum;
import ca.uhn.fhir.rest.api.server.SystemRequestDetails;
import ca.uhn.fhir.rest.server.exceptions.ForbiddenOperationException;
import ca.uhn.fhir.rest.server.exceptions.InvalidRequestException;
import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import dev.bulkfhir.providers.export.ExportRequest.Level;
import dev.bulkfhir.storage.source.ExportQuery;
import dev.bulkfhir.storage.source.ResourceSink;
import dev.bulkfhir.storage.source.ResourceSource;
import org.hl7.fhir.r4.model.OperationOutcome;
import org.hl7.fhir.r4.model.Parameters;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The kickoff parameters alone: what is refused, what leniency lets through, and what is then exported. */
class KickoffParserTest {

    private static final FhirContext FHIR = FhirContext.forR4Cached();
    /** These tests name no patients, and no Group but Group/g, which has none. */
    private static final ResourceSource NO_SOURCE = new ResourceSource() {
        @Override
        public void stream(ExportQuery query, ResourceSink sink) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Optional<Set<String>> groupMembers(String groupId, Instant asOf) {
            return groupId.equals("g") ? Optional.of(Set.of()) : Optional.empty();
        }

        @Override
        public Set<String> existingPatients(Set<String> patientIds, Instant asOf) {
            throw new UnsupportedOperationException();
        }

        @Override
        public boolean hasData(String type) {
            return true;
        }
    };
    private final KickoffParser parser = new KickoffParser(FHIR, new ExportTypes(FHIR), NO_SOURCE);

    private KickoffParser.Parsed parse(boolean lenient, String... nameValues) {
        SystemRequestDetails details = new SystemRequestDetails();
        details.setRequestType(RequestTypeEnum.GET);
        details.addHeader("Prefer", lenient ? "respond-async, handling=lenient" : "respond-async");
        Map<String, String[]> query = new LinkedHashMap<>();
        for (int i = 0; i < nameValues.length; i += 2) {
            query.put(nameValues[i], new String[] {nameValues[i + 1]});
        }
        return parser.parse(details, query, Level.SYSTEM, null, ExportClient.ANONYMOUS, Instant.now());
    }

    private String refusal(boolean lenient, String... nameValues) {
        InvalidRequestException error = assertThrows(InvalidRequestException.class, () -> parse(lenient, nameValues));
        OperationOutcome outcome = (OperationOutcome) error.getOperationOutcome();
        return FHIR.newJsonParser().encodeResourceToString(outcome);
    }

    @Test
    void anAcceptOfEmptyMediaRangesAdmitsNoJson() {
        for (String accept : List.of(";", ",", ";q=1", " ; ")) {
            SystemRequestDetails details = new SystemRequestDetails();
            details.setRequestType(RequestTypeEnum.GET);
            details.addHeader("Prefer", "respond-async");
            details.addHeader("Accept", accept);
            InvalidRequestException error = assertThrows(InvalidRequestException.class, () -> parser.parse(details,
                    Map.of(), Level.SYSTEM, null, ExportClient.ANONYMOUS, Instant.now()));
            String outcome = FHIR.newJsonParser().encodeResourceToString(error.getOperationOutcome());
            assertTrue(outcome.contains("Accept"), outcome);
        }
    }

    @Test
    void aControlCharacterInAValueIsMalformedEvenLeniently() {
        for (boolean lenient : new boolean[] {false, true}) {
            for (String[] parameter : List.of(new String[] {"_type", "Patient\0"},
                    new String[] {"_since", "2024-01-01T00:00:00Z\0"}, new String[] {"_outputFormat", "ndjson\0"},
                    new String[] {"_typeFilter", "Observation?code=1\0"})) {
                String outcome = refusal(lenient, parameter);
                assertTrue(outcome.contains("control character") && outcome.contains(parameter[0]), outcome);
            }
        }
    }

    @Test
    void aTypeFilterWithAnEmptyQueryIsRefusedStrictlyAndIgnoredLeniently() {
        assertTrue(refusal(false, "_typeFilter", "Observation?").contains("no search parameters"));
        KickoffParser.Parsed lenient = parse(true, "_typeFilter", "Observation?");
        assertEquals(List.of(), lenient.request().typeFilters());
        assertTrue(lenient.warnings().get(0).contains("no search parameters"), lenient.warnings().toString());
    }

    @Test
    void leniencyThatDropsEveryNamedTypeLeavesNoTypesRatherThanAll() {
        KickoffParser.Parsed parsed = parse(true, "_type", "Foo");
        assertEquals(List.of(), parsed.request().types());
        assertFalse(parsed.request().allTypes());
        assertTrue(parsed.warnings().get(0).contains("'Foo'"), parsed.warnings().toString());

        KickoffParser.Parsed some = parse(true, "_type", "Foo,Patient");
        assertEquals(List.of("Patient"), some.request().types());
        assertTrue(parse(false).request().allTypes(), "no _type: every type");
    }

    @Test
    void includeAssociatedDataIsRefusedStrictlyAndAWarningLeniently() {
        String outcome = refusal(false, "includeAssociatedData", "_myCustomPreset");
        assertTrue(outcome.contains("includeAssociatedData") && outcome.contains("not-supported"), outcome);
        KickoffParser.Parsed lenient = parse(true, "includeAssociatedData", "LatestProvenanceResources,_myCustomPreset");
        assertTrue(lenient.warnings().get(0).contains("_myCustomPreset"), lenient.warnings().toString());
        assertEquals(AssociatedProvenance.LATEST, lenient.request().associatedData());
    }

    @Test
    void bothProvenanceValuesMeanTheLessRestrictiveOne() {
        assertEquals(AssociatedProvenance.RELEVANT, parse(false, "includeAssociatedData",
                "RelevantProvenanceResources,LatestProvenanceResources").request().associatedData());
        assertEquals(AssociatedProvenance.RELEVANT, parse(false, "includeAssociatedData",
                "LatestProvenanceResources, RelevantProvenanceResources").request().associatedData());
        assertEquals(null, parse(false).request().associatedData());
    }

    @Test
    void aSystemExportWithoutTypeCoversBinaryLikeEveryOtherType() {
        assertTrue(new ExportTypes(FHIR).defaults(Level.SYSTEM).contains("Binary"));
        assertFalse(new ExportTypes(FHIR).defaults(Level.PATIENT).contains("Binary"));
    }

    @Test
    void untilIsKeptAsAnInstantAndTheExportIsAsOfTheEarlierOfItAndTheTransactionTime() {
        ExportRequest request = parse(false, "_since", "2024-01-01T00:00:00Z", "_until", "2024-02-01T01:00:00+01:00")
                .request();
        assertEquals("2024-02-01T00:00:00Z", request.until());
        Instant transactionTime = Instant.parse("2025-01-01T00:00:00Z");
        assertEquals(Instant.parse("2024-02-01T00:00:00Z"), request.asOf(transactionTime));
        ExportRequest future = parse(false, "_until", "2999-01-01T00:00:00Z").request();
        assertEquals(transactionTime, future.asOf(transactionTime), "a future _until is the transaction time");
        assertEquals(transactionTime, parse(false).request().asOf(transactionTime), "no _until");
    }

    @Test
    void untilNotLaterThanSinceIsMalformedEvenLeniently() {
        for (boolean lenient : new boolean[] {false, true}) {
            String outcome = refusal(lenient, "_since", "2024-01-02T00:00:00Z", "_until", "2024-01-01T00:00:00Z");
            assertTrue(outcome.contains("_until") && outcome.contains("must be later than _since"), outcome);
            assertTrue(refusal(lenient, "_until", "2024-01-01").contains("not a FHIR instant"));
        }
    }

    @Test
    void aRequestStoredBeforeUntilExistedReadsBackWithoutIt() {
        ExportRequest old = ExportRequest.fromJson("{\"level\":\"SYSTEM\",\"types\":[],\"typesNamed\":false}");
        assertEquals(null, old.until());
        assertEquals(Instant.EPOCH, old.asOf(Instant.EPOCH));
    }

    @Test
    void repeatedTypeFiltersAreKeptApartToBeOredAndLeniencyDropsAllOfATypeNamingEach() {
        SystemRequestDetails details = new SystemRequestDetails();
        details.setRequestType(RequestTypeEnum.GET);
        details.addHeader("Prefer", "respond-async, handling=lenient");
        Map<String, String[]> query = Map.of("_typeFilter", new String[] {"Observation?category=laboratory",
                "Observation?status=final,Condition?clinical-status=active", "Observation?value-string=x"});
        KickoffParser.Parsed parsed = parser.parse(details, query, Level.PATIENT, null, ExportClient.ANONYMOUS,
                Instant.now());
        assertEquals(List.of("Condition?clinical-status=active"), parsed.request().typeFilters());
        String warnings = String.join("\n", parsed.warnings());
        assertEquals(3, parsed.warnings().size(), warnings);
        assertTrue(warnings.contains("'Observation?value-string=x'") && warnings.contains("value-string"), warnings);
        assertTrue(warnings.contains("'Observation?category=laboratory' is not applied either")
                && warnings.contains("'Observation?status=final' is not applied either"), warnings);

        SystemRequestDetails strict = new SystemRequestDetails();
        strict.setRequestType(RequestTypeEnum.GET);
        strict.addHeader("Prefer", "respond-async");
        KickoffParser.Parsed both = parser.parse(strict, Map.of("_typeFilter", new String[] {
                "Observation?category=laboratory", "Observation?category=vital-signs"}), Level.GROUP, "g",
                ExportClient.ANONYMOUS, Instant.now());
        assertEquals(List.of("Observation?category=laboratory", "Observation?category=vital-signs"),
                both.request().typeFilters());
    }

    @ParameterizedTest(name = "{0}={1}")
    @CsvSource(delimiter = '#', quoteCharacter = '`', value = {
            "_outputFormat # application/fhir+ndjson",
            "_outputFormat # application/ndjson",
            "_outputFormat # ndjson",
            "_outputFormat # application/fhir ndjson",
            "_since # 2024-01-01T00:00:00Z",
            "_since # 2024-01-01T00:00:00.123456789+02:00",
            "_since # 2024-01-01T00:00:00 02:00",
            "_type # Patient, Observation",
            "_elements # id",
            "_elements # Patient.name",
            "organizeOutputBy # Patient",
            "allowPartialManifests # TRUE",
            "allowPartialManifests # false",
            "_format # json",
    })
    void acceptedStrictly(String name, String value) {
        assertThat(parse(false, name, value).warnings()).isEmpty();
    }

    @ParameterizedTest(name = "{0}={1}")
    @CsvSource(delimiter = '#', quoteCharacter = '`', value = {
            "_outputFormat # text/csv # is not supported: use application/fhir+ndjson",
            "_since # 2024-01-01 # not a FHIR instant",
            "_since # 2024-01-01T00:00Z # not a FHIR instant",
            "_since # 2024-13-01T00:00:00Z # not a FHIR instant",
            "_until # yesterday # not a FHIR instant",
            "_type # Patient,,Observation # _type has an empty entry",
            "_elements # , # _elements has an empty entry",
            "organizeOutputBy # Nonsense # is not an R4 resource type",
            "allowPartialManifests # yes # takes one value, true or false",
            "patient # Patient/1 # accepted only in the Parameters body",
    })
    void refusedEvenLeniently(String name, String value, String message) {
        assertThat(refusal(false, name, value)).contains(message);
        assertThat(refusal(true, name, value)).contains(message);
    }

    @ParameterizedTest(name = "{0}={1}")
    @CsvSource(delimiter = '#', quoteCharacter = '`', value = {
            "_bogus # 1 # Unknown parameter '_bogus'",
            "_type # Foo # _type names 'Foo', which is not an R4 resource type",
            "_elements # Patient.name.family # only root elements are allowed",
            "_elements # Patient.nonsense # Patient has no element 'nonsense'",
            "_elements # nonsense # which no exported resource type has",
            "organizeOutputBy # Encounter # organizeOutputBy=Encounter is not supported",
            "_typeFilter # Observation?value-quantity=5 # is not supported here",
            "includeAssociatedData # _custom # includeAssociatedData=_custom is not supported",
    })
    void unsupportedIsRefusedStrictlyAndAWarningLeniently(String name, String value, String message) {
        assertThat(refusal(false, name, value)).contains(message).contains("not-supported");
        assertThat(parse(true, name, value).warnings()).singleElement().asString()
                .contains(message).endsWith("(ignored: Prefer handling=lenient)");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '#', quoteCharacter = '`', value = {
            "respond-async # false",
            "RESPOND-ASYNC, handling = lenient # true",
            "handling=lenient, respond-async # true",
            "handling=lenient # ",
    })
    void preferMustAskForAnAsynchronousAnswerAndMayAskForLeniency(String prefer, Boolean lenient) {
        SystemRequestDetails details = new SystemRequestDetails();
        details.setRequestType(RequestTypeEnum.GET);
        details.addHeader("Prefer", prefer);
        Map<String, String[]> unknown = Map.of("_bogus", new String[] {"1"});
        if (Boolean.TRUE.equals(lenient)) {
            assertThat(parser.parse(details, unknown, Level.SYSTEM, null, ExportClient.ANONYMOUS, Instant.now())
                    .warnings()).hasSize(1);
        } else {
            InvalidRequestException error = assertThrows(InvalidRequestException.class, () -> parser.parse(details,
                    unknown, Level.SYSTEM, null, ExportClient.ANONYMOUS, Instant.now()));
            assertThat(FHIR.newJsonParser().encodeResourceToString(error.getOperationOutcome()))
                    .contains(lenient == null ? "send Prefer: respond-async" : "Unknown parameter '_bogus'");
        }
    }

    @Test
    void typesNamedInTheQueryOrTheBodyAreCheckedOnceBeforeTheGroupIsLookedUp() {
        List<List<String>> asked = new ArrayList<>();
        ExportClient patientsOnly = new ExportClient("narrow", Set.of("Patient"), true, types -> {
            asked.add(types);
            if (!Set.of("Patient").containsAll(types)) throw new ForbiddenOperationException("not " + types);
        });
        SystemRequestDetails get = new SystemRequestDetails();
        get.setRequestType(RequestTypeEnum.GET);
        assertThrows(ForbiddenOperationException.class, () -> parser.parse(get, Map.of("_type",
                new String[] {"Patient, Encounter,Foo"}), Level.GROUP, "unknown", patientsOnly, Instant.now()));
        assertEquals(List.of("Patient", "Encounter"), asked.get(0), "known types only, in order");

        SystemRequestDetails post = new SystemRequestDetails();
        post.setRequestType(RequestTypeEnum.POST);
        Parameters body = new Parameters();
        body.addParameter("_type", "Encounter");
        post.setResource(body);
        assertThrows(ForbiddenOperationException.class, () -> parser.parse(post, Map.of(), Level.SYSTEM, null,
                patientsOnly, Instant.now()));
        assertEquals(List.of("Encounter"), asked.get(1));

        assertThrows(ResourceNotFoundException.class, () -> parser.parse(get, Map.of(), Level.GROUP, "unknown",
                patientsOnly, Instant.now()), "allowed: then the unknown Group");
        assertEquals(List.of(), asked.get(2), "no _type: the client must read some type");
    }
}
