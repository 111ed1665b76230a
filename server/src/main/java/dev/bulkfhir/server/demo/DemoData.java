package dev.bulkfhir.server.demo;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.FhirVersionEnum;
import ca.uhn.fhir.model.api.TemporalPrecisionEnum;
import dev.bulkfhir.storage.resource.ResourceStore;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Address;
import org.hl7.fhir.r4.model.Annotation;
import org.hl7.fhir.r4.model.Attachment;
import org.hl7.fhir.r4.model.Binary;
import org.hl7.fhir.r4.model.CodeableConcept;
import org.hl7.fhir.r4.model.Coding;
import org.hl7.fhir.r4.model.ContactPoint;
import org.hl7.fhir.r4.model.Condition;
import org.hl7.fhir.r4.model.DateTimeType;
import org.hl7.fhir.r4.model.DateType;
import org.hl7.fhir.r4.model.DocumentReference;
import org.hl7.fhir.r4.model.Encounter;
import org.hl7.fhir.r4.model.Enumerations;
import org.hl7.fhir.r4.model.Group;
import org.hl7.fhir.r4.model.HumanName;
import org.hl7.fhir.r4.model.Identifier;
import org.hl7.fhir.r4.model.InstantType;
import org.hl7.fhir.r4.model.MedicationRequest;
import org.hl7.fhir.r4.model.Observation;
import org.hl7.fhir.r4.model.Organization;
import org.hl7.fhir.r4.model.Patient;
import org.hl7.fhir.r4.model.Period;
import org.hl7.fhir.r4.model.Practitioner;
import org.hl7.fhir.r4.model.Quantity;
import org.hl7.fhir.r4.model.Reference;

import java.math.BigDecimal;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.TimeZone;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * A synthetic but plausible population, generated deterministically: the same seed gives the same
 * resources, byte for byte, on any machine and on any day. Clinical dates count back from a fixed
 * {@link #BASE_DATE}, never from the clock; every patient draws from its own random stream, derived
 * from the seed and the patient's number, so patients can be generated in any order or in
 * parallel and still come out the same.
 *
 * <p>What is generated, in this order: {@value #ORGANIZATIONS} Organizations and
 * {@value #PRACTITIONERS} Practitioners; then for each patient the Patient, 3 to 5 Encounters, vital
 * signs and laboratory Observations for every encounter (LOINC, UCUM), 1 to 3 Conditions (SNOMED CT)
 * and a MedicationRequest (RxNorm) for each treated condition, about 28 resources per patient; after
 * the first patient, a Binary holding a small PDF and the DocumentReference that points at it; and
 * last a Group of every third patient. Ids are readable and stable: {@code demo-pat-000001},
 * {@code demo-enc-000001-2}, {@code demo-obs-000001-2-03}...
 */
public final class DemoData {

    /** Clinical dates are in the five years before this day. */
    public static final LocalDate BASE_DATE = LocalDate.of(2025, 1, 1);
    public static final String GROUP_ID = "demo-group-every-third";
    public static final String BINARY_ID = "demo-binary-discharge-summary";
    public static final String DOCUMENT_REFERENCE_ID = "demo-docref-discharge-summary";
    static final int ORGANIZATIONS = 3;
    static final int PRACTITIONERS = 10;

    static final String LOINC = "http://loinc.org";
    static final String SNOMED = "http://snomed.info/sct";
    static final String RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm";
    static final String UCUM = "http://unitsofmeasure.org";
    static final String OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category";
    static final String MRN_SYSTEM = "https://bulkfhir.dev/sid/demo-mrn";
    static final String NPI_SYSTEM = "http://hl7.org/fhir/sid/us-npi";

    private static final TimeZone UTC = TimeZone.getTimeZone("UTC");
    private static final Instant BASE_INSTANT = BASE_DATE.atStartOfDay(ZoneOffset.UTC).toInstant();

    private final long seed;

    public DemoData(FhirContext context, long seed) {
        if (context.getVersion().getVersion() != FhirVersionEnum.R4) {
            throw new IllegalArgumentException("Demo data is FHIR R4, not " + context.getVersion().getVersion());
        }
        this.seed = seed;
    }

    public static String patientId(int index) {
        return String.format(Locale.ROOT, "demo-pat-%06d", index + 1);
    }

    /** Hands every resource of a population of {@code patients} to the sink, one at a time. */
    public void generate(int patients, Consumer<IBaseResource> sink) {
        shared(sink);
        for (int i = 0; i < patients; i++) {
            patient(i, sink);
        }
        if (patients > 0) {
            sink.accept(group(patients));
        }
    }

    /**
     * Writes a population into the store in transactions of about 250 resources, on one thread
     * per core (at most four), and returns the number of resources written.
     */
    public static long populate(ResourceStore store, int patients, long seed) {
        DemoData demo = new DemoData(store.context(), seed);
        AtomicLong written = new AtomicLong();
        List<IBaseResource> shared = new ArrayList<>();
        demo.shared(shared::add);
        written.addAndGet(store.writeAll(shared));

        int threads = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));
        int block = 9; // about 250 resources per transaction (see Loader: less garbage-collection work)
        AtomicInteger next = new AtomicInteger();
        AtomicBoolean failed = new AtomicBoolean();
        ExecutorService pool = Executors.newFixedThreadPool(threads, runnable -> {
            Thread thread = new Thread(runnable, "demo-data-writer");
            thread.setDaemon(true);
            return thread;
        });
        try {
            List<Future<?>> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                workers.add(pool.submit(() -> {
                    List<IBaseResource> batch = new ArrayList<>(block * 32);
                    try {
                        for (int from = next.getAndAdd(block); from < patients && !failed.get();
                                from = next.getAndAdd(block)) {
                            batch.clear();
                            for (int i = from; i < Math.min(patients, from + block); i++) {
                                demo.patient(i, batch::add);
                            }
                            written.addAndGet(store.writeAll(batch));
                        }
                    } catch (RuntimeException e) {
                        failed.set(true);
                        throw e;
                    }
                    return null;
                }));
            }
            for (Future<?> worker : workers) {
                worker.get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while writing demo data", e);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException runtime) {
                throw runtime;
            }
            throw new IllegalStateException("Writing demo data failed", e.getCause());
        } finally {
            pool.shutdownNow();
        }
        if (patients > 0) {
            written.addAndGet(store.writeAll(List.of(demo.group(patients))));
        }
        return written.get();
    }

    // ---------------------------------------------------------------- shared resources

    void shared(Consumer<IBaseResource> sink) {
        Random random = new Random(mix(seed, -1));
        for (int i = 0; i < ORGANIZATIONS; i++) {
            Organization org = new Organization();
            org.setId(organizationId(i));
            org.addIdentifier().setSystem("https://bulkfhir.dev/sid/demo-organization").setValue("ORG-" + (i + 1));
            org.setActive(true);
            org.addType().addCoding()
                    .setSystem("http://terminology.hl7.org/CodeSystem/organization-type")
                    .setCode("prov").setDisplay("Healthcare Provider");
            City city = CITIES[i % CITIES.length];
            org.setName(ORGANIZATION_NAMES[i % ORGANIZATION_NAMES.length] + " " + city.name());
            org.addTelecom().setSystem(ContactPoint.ContactPointSystem.PHONE).setValue(phone(random));
            org.addAddress(address(random, city));
            sink.accept(org);
        }
        for (int i = 0; i < PRACTITIONERS; i++) {
            Practitioner practitioner = new Practitioner();
            practitioner.setId(practitionerId(i));
            practitioner.addIdentifier().setSystem(NPI_SYSTEM).setValue(String.format(Locale.ROOT, "99999%05d", i + 1));
            practitioner.setActive(true);
            boolean female = random.nextBoolean();
            practitioner.addName().setUse(HumanName.NameUse.OFFICIAL)
                    .setFamily(pick(random, FAMILY_NAMES))
                    .addGiven(pick(random, female ? FEMALE_NAMES : MALE_NAMES))
                    .addPrefix("Dr.");
            practitioner.setGender(female ? Enumerations.AdministrativeGender.FEMALE
                    : Enumerations.AdministrativeGender.MALE);
            practitioner.addTelecom().setSystem(ContactPoint.ContactPointSystem.EMAIL)
                    .setValue("practitioner" + (i + 1) + "@clinic.example.org").setUse(ContactPoint.ContactPointUse.WORK);
            sink.accept(practitioner);
        }
    }

    static String organizationId(int index) {
        return "demo-org-" + (index + 1);
    }

    static String practitionerId(int index) {
        return String.format(Locale.ROOT, "demo-prac-%02d", index + 1);
    }

    // ---------------------------------------------------------------- one patient

    /** Everything about patient number {@code index} (0-based), the same whatever else is generated. */
    void patient(int index, Consumer<IBaseResource> sink) {
        Random random = new Random(mix(seed, index));
        String number = String.format(Locale.ROOT, "%06d", index + 1);
        String patientId = patientId(index);
        Reference subject = new Reference("Patient/" + patientId);
        Reference organization = new Reference("Organization/" + organizationId(index % ORGANIZATIONS));
        Reference doctor = new Reference("Practitioner/" + practitionerId(index % PRACTITIONERS));

        boolean female = random.nextBoolean();
        int ageYears = 1 + random.nextInt(89);
        LocalDate birthDate = BASE_DATE.minusYears(ageYears).minusDays(1 + random.nextInt(364));
        City city = pick(random, CITIES);

        Patient patient = new Patient();
        patient.setId(patientId);
        Identifier mrn = patient.addIdentifier().setUse(Identifier.IdentifierUse.USUAL)
                .setSystem(MRN_SYSTEM).setValue("MRN" + number);
        mrn.getType().addCoding().setSystem("http://terminology.hl7.org/CodeSystem/v2-0203")
                .setCode("MR").setDisplay("Medical Record Number");
        mrn.getType().setText("Medical Record Number");
        patient.setActive(true);
        String given = pick(random, female ? FEMALE_NAMES : MALE_NAMES);
        String family = pick(random, FAMILY_NAMES);
        HumanName name = patient.addName().setUse(HumanName.NameUse.OFFICIAL).setFamily(family).addGiven(given);
        if (random.nextInt(3) == 0) {
            name.addGiven(pick(random, female ? FEMALE_NAMES : MALE_NAMES));
        }
        if (ageYears >= 18) {
            name.addPrefix(female ? "Ms." : "Mr.");
        }
        patient.addTelecom().setSystem(ContactPoint.ContactPointSystem.PHONE).setValue(phone(random))
                .setUse(ContactPoint.ContactPointUse.HOME);
        patient.setGender(female ? Enumerations.AdministrativeGender.FEMALE : Enumerations.AdministrativeGender.MALE);
        patient.setBirthDateElement(new DateType(birthDate.getYear(), birthDate.getMonthValue() - 1,
                birthDate.getDayOfMonth()));
        patient.addAddress(address(random, city));
        MaritalStatus marital = ageYears < 18 ? MARITAL_STATUSES[0] : pick(random, MARITAL_STATUSES);
        patient.getMaritalStatus().addCoding()
                .setSystem("http://terminology.hl7.org/CodeSystem/v3-MaritalStatus")
                .setCode(marital.code()).setDisplay(marital.display());
        patient.getMaritalStatus().setText(marital.display());
        patient.addCommunication().setPreferred(true).getLanguage().addCoding()
                .setSystem("urn:ietf:bcp:47").setCode("en-US").setDisplay("English (United States)");
        patient.addGeneralPractitioner(doctor.copy());
        patient.setManagingOrganization(organization.copy());
        sink.accept(patient);

        // Body and history, which the observations and conditions follow.
        double heightCm = ageYears < 18 ? 75 + ageYears * 5.5 + random.nextGaussian() * 5
                : (female ? 163 : 177) + random.nextGaussian() * 7;
        double bmi = ageYears < 18 ? 16 + ageYears * 0.25 + random.nextGaussian() : 22 + Math.abs(random.nextGaussian()) * 6;
        double weightKg = bmi * (heightCm / 100) * (heightCm / 100);
        List<Problem> problems = problems(random, ageYears);
        boolean diabetic = problems.stream().anyMatch(p -> p.code().equals("44054006"));
        boolean lipids = problems.stream().anyMatch(p -> p.code().equals("55822004"));
        boolean hypertensive = problems.stream().anyMatch(p -> p.code().equals("38341003"));

        // Encounters, oldest first, all after birth and before the base date.
        int encounters = 3 + random.nextInt(3);
        long daysAlive = ChronoUnit.DAYS.between(birthDate, BASE_DATE);
        int window = (int) Math.max(encounters, Math.min(5 * 365, daysAlive - 1));
        List<Instant> starts = new ArrayList<>();
        for (int e = 0; e < encounters; e++) {
            int daysBefore = 1 + random.nextInt(window);
            starts.add(BASE_INSTANT.minus(daysBefore, ChronoUnit.DAYS)
                    .plus(8 * 60 + random.nextInt(9 * 60), ChronoUnit.MINUTES));
        }
        starts.sort(null);
        // Each problem is diagnosed at one encounter: chronic ones at the first, acute ones anywhere.
        int[] diagnosedAt = new int[problems.size()];
        for (int p = 0; p < problems.size(); p++) {
            diagnosedAt[p] = problems.get(p).chronic() ? 0 : random.nextInt(encounters);
        }

        String lastEncounterId = null;
        Instant lastEncounterStart = null;
        for (int e = 0; e < encounters; e++) {
            String encounterId = "demo-enc-" + number + "-" + (e + 1);
            Reference encounterRef = new Reference("Encounter/" + encounterId);
            Instant start = starts.get(e);
            Instant end = start.plus(15 + random.nextInt(46), ChronoUnit.MINUTES);
            Problem acute = null;
            for (int p = 0; p < problems.size(); p++) {
                if (diagnosedAt[p] == e && !problems.get(p).chronic()) {
                    acute = problems.get(p);
                }
            }

            Encounter encounter = new Encounter();
            encounter.setId(encounterId);
            encounter.addIdentifier().setSystem("https://bulkfhir.dev/sid/demo-visit").setValue("V" + number + "-" + (e + 1));
            encounter.setStatus(Encounter.EncounterStatus.FINISHED);
            encounter.setClass_(new Coding("http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB", "ambulatory"));
            if (acute != null) {
                encounter.addType(concept(SNOMED, "185345009", "Encounter for symptom (procedure)"));
                encounter.addReasonCode(concept(SNOMED, acute.code(), acute.display()));
            } else {
                encounter.addType(concept(SNOMED, "185349003", "Encounter for check up (procedure)"));
            }
            encounter.setSubject(subject.copy());
            encounter.addParticipant().setIndividual(doctor.copy()).addType(concept(
                    "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "PPRF", "primary performer"));
            encounter.setPeriod(new Period().setStartElement(dateTime(start)).setEndElement(dateTime(end)));
            encounter.setServiceProvider(organization.copy());
            sink.accept(encounter);
            lastEncounterId = encounterId;
            lastEncounterStart = start;

            // Vital signs at every visit.
            ObservationFactory obs = new ObservationFactory(number, e + 1, subject, encounterRef, start,
                    end.minus(5, ChronoUnit.MINUTES));
            double drift = random.nextGaussian() * 1.5;
            double systolic = (hypertensive ? 142 : 118) + ageYears * 0.15 + random.nextGaussian() * 8;
            double diastolic = (hypertensive ? 90 : 76) + random.nextGaussian() * 6;
            sink.accept(obs.bloodPressure(systolic, diastolic));
            sink.accept(obs.vital("8867-4", "Heart rate", 62 + random.nextInt(40), 0, "/min", "/min"));
            sink.accept(obs.vital("29463-7", "Body weight", weightKg + drift, 1, "kg", "kg"));
            if (random.nextBoolean()) {
                sink.accept(obs.vital("8310-5", "Body temperature", 36.6 + random.nextGaussian() * 0.3
                        + (acute != null ? 1.2 : 0), 1, "Cel", "Cel"));
            }
            if (e == 0) {
                sink.accept(obs.vital("8302-2", "Body Height", heightCm, 1, "cm", "cm"));
                sink.accept(obs.vital("39156-5", "Body mass index (BMI) [Ratio]", bmi, 1, "kg/m2", "kg/m2"));
            }
            // Laboratory results: what the problems call for, and now and then a routine panel.
            if (diabetic || random.nextInt(4) == 0) {
                sink.accept(obs.lab(LABS[0], diabetic ? 150 + random.nextGaussian() * 30 : 88 + random.nextGaussian() * 10));
            }
            if (diabetic) {
                sink.accept(obs.lab(LABS[1], 7.4 + random.nextGaussian() * 0.8));
            }
            if (lipids || random.nextInt(5) == 0) {
                sink.accept(obs.lab(LABS[2], lipids ? 245 + random.nextGaussian() * 25 : 175 + random.nextGaussian() * 20));
            }
            if (random.nextInt(3) == 0) {
                Lab routine = LABS[3 + random.nextInt(LABS.length - 3)];
                sink.accept(obs.lab(routine, routine.typical() + random.nextGaussian() * routine.spread()));
            }
        }

        // Conditions and what was prescribed for them.
        int prescription = 0;
        for (int p = 0; p < problems.size(); p++) {
            Problem problem = problems.get(p);
            Instant onset = starts.get(diagnosedAt[p]);
            String encounterId = "demo-enc-" + number + "-" + (diagnosedAt[p] + 1);
            String conditionId = "demo-cond-" + number + "-" + (p + 1);
            Condition condition = new Condition();
            condition.setId(conditionId);
            condition.getClinicalStatus().addCoding()
                    .setSystem("http://terminology.hl7.org/CodeSystem/condition-clinical")
                    .setCode(problem.chronic() ? "active" : "resolved");
            condition.getVerificationStatus().addCoding()
                    .setSystem("http://terminology.hl7.org/CodeSystem/condition-ver-status")
                    .setCode("confirmed");
            condition.addCategory(concept("http://terminology.hl7.org/CodeSystem/condition-category",
                    problem.chronic() ? "problem-list-item" : "encounter-diagnosis",
                    problem.chronic() ? "Problem List Item" : "Encounter Diagnosis"));
            condition.setCode(concept(SNOMED, problem.code(), problem.display()));
            condition.setSubject(subject.copy());
            condition.setEncounter(new Reference("Encounter/" + encounterId));
            condition.setOnset(dateTime(onset));
            if (!problem.chronic()) {
                condition.setAbatement(dateTime(onset.plus(7 + random.nextInt(14), ChronoUnit.DAYS)));
            }
            condition.setRecordedDateElement(dateTime(onset));
            condition.setRecorder(doctor.copy());
            sink.accept(condition);

            if (problem.medication() != null) {
                Medication medication = problem.medication();
                MedicationRequest request = new MedicationRequest();
                request.setId("demo-medrx-" + number + "-" + (++prescription));
                request.setStatus(problem.chronic() ? MedicationRequest.MedicationRequestStatus.ACTIVE
                        : MedicationRequest.MedicationRequestStatus.COMPLETED);
                request.setIntent(MedicationRequest.MedicationRequestIntent.ORDER);
                request.setMedication(concept(RXNORM, medication.rxnorm(), medication.display()));
                request.setSubject(subject.copy());
                request.setEncounter(new Reference("Encounter/" + encounterId));
                request.setAuthoredOnElement(dateTime(onset.plus(20, ChronoUnit.MINUTES)));
                request.setRequester(doctor.copy());
                request.addReasonReference(new Reference("Condition/" + conditionId));
                request.addDosageInstruction().setSequence(1).setText(medication.instructions());
                if (random.nextInt(4) == 0) {
                    request.addNote(new Annotation().setText("Discussed side effects with the patient."));
                }
                sink.accept(request);
            }
        }

        if (index == 0) {
            document(sink, given + " " + family, patientId, lastEncounterId, lastEncounterStart);
        }
    }

    /** The discharge summary of the first patient: a Binary PDF and its DocumentReference. */
    private void document(Consumer<IBaseResource> sink, String patientName, String patientId, String encounterId,
            Instant when) {
        String date = when.atZone(ZoneOffset.UTC).toLocalDate().toString();
        byte[] pdf = DemoPdf.dischargeSummary(patientName, patientId, date);
        Binary binary = new Binary();
        binary.setId(BINARY_ID);
        binary.setContentType("application/pdf");
        binary.setSecurityContext(new Reference("Patient/" + patientId));
        binary.setData(pdf);
        sink.accept(binary);

        DocumentReference document = new DocumentReference();
        document.setId(DOCUMENT_REFERENCE_ID);
        document.setStatus(Enumerations.DocumentReferenceStatus.CURRENT);
        document.setDocStatus(DocumentReference.ReferredDocumentStatus.FINAL);
        document.setType(concept(LOINC, "18842-5", "Discharge summary"));
        document.addCategory(concept("http://hl7.org/fhir/us/core/CodeSystem/us-core-documentreference-category",
                "clinical-note", "Clinical Note"));
        document.setSubject(new Reference("Patient/" + patientId));
        document.setDateElement(new InstantType(Date.from(when.plus(1, ChronoUnit.HOURS)),
                TemporalPrecisionEnum.SECOND, UTC));
        document.setDescription("Discharge summary (PDF)");
        Attachment attachment = document.addContent().getAttachment();
        attachment.setContentType("application/pdf");
        attachment.setLanguage("en-US");
        attachment.setUrl("Binary/" + BINARY_ID);
        attachment.setSize(pdf.length);
        attachment.setHash(sha1(pdf));
        attachment.setTitle("discharge-summary.pdf");
        attachment.setCreationElement(dateTime(when.plus(1, ChronoUnit.HOURS)));
        document.getContext().addEncounter(new Reference("Encounter/" + encounterId));
        sink.accept(document);
    }

    /** Every third patient (the first, the fourth, ...), by reference. */
    Group group(int patients) {
        Group group = new Group();
        group.setId(GROUP_ID);
        group.addIdentifier().setSystem("https://bulkfhir.dev/sid/demo-group").setValue("every-third");
        group.setActive(true);
        group.setType(Group.GroupType.PERSON);
        group.setActual(true);
        group.setName("Demo cohort: every third patient");
        int members = 0;
        for (int i = 0; i < patients; i += 3) {
            group.addMember().setEntity(new Reference("Patient/" + patientId(i)));
            members++;
        }
        group.setQuantity(members);
        return group;
    }

    // ---------------------------------------------------------------- observations

    private static final class ObservationFactory {
        private final String number;
        private final int encounter;
        private final Reference subject;
        private final Reference encounterRef;
        private final Instant effective;
        private final Instant issued;
        private int sequence;

        ObservationFactory(String number, int encounter, Reference subject, Reference encounterRef, Instant effective,
                Instant issued) {
            this.number = number;
            this.encounter = encounter;
            this.subject = subject;
            this.encounterRef = encounterRef;
            this.effective = effective;
            this.issued = issued;
        }

        private Observation base(String category, String categoryDisplay, String loinc, String display) {
            Observation observation = new Observation();
            observation.setId(String.format(Locale.ROOT, "demo-obs-%s-%d-%02d", number, encounter, ++sequence));
            observation.setStatus(Observation.ObservationStatus.FINAL);
            observation.addCategory(concept(OBSERVATION_CATEGORY, category, categoryDisplay));
            observation.setCode(concept(LOINC, loinc, display));
            observation.setSubject(subject.copy());
            observation.setEncounter(encounterRef.copy());
            observation.setEffective(dateTime(effective));
            observation.setIssuedElement(new InstantType(Date.from(issued), TemporalPrecisionEnum.MILLI, UTC));
            return observation;
        }

        Observation vital(String loinc, String display, double value, int scale, String unit, String ucum) {
            Observation observation = base("vital-signs", "Vital Signs", loinc, display);
            observation.setValue(quantity(value, scale, unit, ucum));
            return observation;
        }

        Observation bloodPressure(double systolic, double diastolic) {
            Observation observation = base("vital-signs", "Vital Signs", "85354-9",
                    "Blood pressure panel with all children optional");
            observation.addComponent().setCode(concept(LOINC, "8480-6", "Systolic blood pressure"))
                    .setValue(quantity(systolic, 0, "mm[Hg]", "mm[Hg]"));
            observation.addComponent().setCode(concept(LOINC, "8462-4", "Diastolic blood pressure"))
                    .setValue(quantity(diastolic, 0, "mm[Hg]", "mm[Hg]"));
            return observation;
        }

        Observation lab(Lab lab, double value) {
            Observation observation = base("laboratory", "Laboratory", lab.loinc(), lab.display());
            double rounded = Math.max(lab.scale() == 0 ? 1 : 0.1, value);
            Quantity quantity = quantity(rounded, lab.scale(), lab.unit(), lab.unit());
            observation.setValue(quantity);
            observation.addReferenceRange()
                    .setLow(quantity(lab.low(), lab.scale(), lab.unit(), lab.unit()))
                    .setHigh(quantity(lab.high(), lab.scale(), lab.unit(), lab.unit()));
            double shown = quantity.getValue().doubleValue();
            String flag = shown < lab.low() ? "L" : shown > lab.high() ? "H" : "N";
            String flagDisplay = flag.equals("L") ? "Low" : flag.equals("H") ? "High" : "Normal";
            observation.addInterpretation(concept(
                    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation", flag, flagDisplay));
            return observation;
        }
    }

    private static Quantity quantity(double value, int scale, String unit, String ucum) {
        BigDecimal decimal = BigDecimal.valueOf(Math.round(value * Math.pow(10, scale)), scale);
        return new Quantity().setValue(decimal).setUnit(unit).setSystem(UCUM).setCode(ucum);
    }

    // ---------------------------------------------------------------- problems

    private static List<Problem> problems(Random random, int ageYears) {
        List<Problem> chosen = new ArrayList<>();
        for (Problem problem : PROBLEMS) {
            double chance = problem.chronic() ? problem.prevalence() * Math.min(1.0, ageYears / 50.0)
                    : problem.prevalence();
            if (random.nextDouble() < chance && chosen.size() < 3) {
                chosen.add(problem);
            }
        }
        if (chosen.isEmpty()) {
            chosen.add(PROBLEMS[PROBLEMS.length - 1 - random.nextInt(3)]); // an acute one
        }
        return chosen;
    }

    // ---------------------------------------------------------------- helpers

    static long mix(long seed, long stream) {
        long z = seed * 0x9E3779B97F4A7C15L + (stream + 1) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    private static DateTimeType dateTime(Instant instant) {
        return new DateTimeType(Date.from(instant), TemporalPrecisionEnum.SECOND, UTC);
    }

    private static CodeableConcept concept(String system, String code, String display) {
        return new CodeableConcept().addCoding(new Coding(system, code, display)).setText(display);
    }

    private static String phone(Random random) {
        return String.format(Locale.ROOT, "555-%03d-%04d", 100 + random.nextInt(900), random.nextInt(10000));
    }

    private static Address address(Random random, City city) {
        return new Address().setUse(Address.AddressUse.HOME)
                .addLine((1 + random.nextInt(999)) + " " + pick(random, STREETS))
                .setCity(city.name()).setState(city.state()).setPostalCode(city.postalCode()).setCountry("US");
    }

    private static <T> T pick(Random random, T[] values) {
        return values[random.nextInt(values.length)];
    }

    private static byte[] sha1(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-1").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---------------------------------------------------------------- vocabulary

    private record City(String name, String state, String postalCode) {}

    private record MaritalStatus(String code, String display) {}

    private record Medication(String rxnorm, String display, String instructions) {}

    private record Problem(String code, String display, boolean chronic, double prevalence, Medication medication) {}

    private record Lab(String loinc, String display, String unit, int scale, double low, double high,
            double typical, double spread) {}

    private static final Lab[] LABS = {
        new Lab("2339-0", "Glucose [Mass/volume] in Blood", "mg/dL", 0, 70, 99, 88, 10),
        new Lab("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 1, 4.0, 5.6, 5.3, 0.3),
        new Lab("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 0, 100, 199, 175, 20),
        new Lab("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 2, 0.6, 1.3, 0.9, 0.15),
        new Lab("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 1, 12.0, 17.5, 14.2, 1.3),
        new Lab("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 1, 4.5, 11.0, 7.2, 1.6),
        new Lab("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 0, 136, 145, 140, 2.5),
        new Lab("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 1, 3.5, 5.1, 4.2, 0.35),
    };

    private static final Problem[] PROBLEMS = {
        new Problem("38341003", "Hypertension", true, 0.35,
                new Medication("314076", "lisinopril 10 MG Oral Tablet", "Take 1 tablet by mouth once daily")),
        new Problem("44054006", "Diabetes mellitus type 2 (disorder)", true, 0.15,
                new Medication("860975", "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet",
                        "Take 1 tablet by mouth once daily with the evening meal")),
        new Problem("55822004", "Hyperlipidemia (disorder)", true, 0.25,
                new Medication("259255", "Atorvastatin 80 MG Oral Tablet", "Take 1 tablet by mouth at bedtime")),
        new Problem("195967001", "Asthma (disorder)", true, 0.08,
                new Medication("745679", "200 ACTUAT Albuterol 0.09 MG/ACTUAT Metered Dose Inhaler",
                        "Inhale 2 puffs every 4 to 6 hours as needed for wheezing")),
        new Problem("15777000", "Prediabetes (finding)", true, 0.12, null),
        new Problem("271737000", "Anemia (disorder)", true, 0.05, null),
        new Problem("43878008", "Streptococcal sore throat (disorder)", false, 0.12,
                new Medication("834061", "Penicillin V Potassium 250 MG Oral Tablet",
                        "Take 1 tablet by mouth 4 times a day for 10 days")),
        new Problem("10509002", "Acute bronchitis (disorder)", false, 0.15,
                new Medication("313782", "Acetaminophen 325 MG Oral Tablet",
                        "Take 2 tablets by mouth every 6 hours as needed for fever")),
        new Problem("444814009", "Viral sinusitis (disorder)", false, 0.25, null),
    };

    private static final MaritalStatus[] MARITAL_STATUSES = {
        new MaritalStatus("S", "Never Married"),
        new MaritalStatus("M", "Married"),
        new MaritalStatus("M", "Married"),
        new MaritalStatus("D", "Divorced"),
        new MaritalStatus("W", "Widowed"),
    };

    private static final City[] CITIES = {
        new City("Boston", "MA", "02108"), new City("Worcester", "MA", "01608"),
        new City("Springfield", "MA", "01103"), new City("Cambridge", "MA", "02139"),
        new City("Lowell", "MA", "01852"), new City("Brockton", "MA", "02301"),
        new City("Quincy", "MA", "02169"), new City("Lynn", "MA", "01901"),
        new City("New Bedford", "MA", "02740"), new City("Salem", "MA", "01970"),
    };

    private static final String[] ORGANIZATION_NAMES = {
        "Bulk FHIR Demo Family Practice", "Bulk FHIR Demo Medical Center", "Bulk FHIR Demo Community Clinic",
    };

    private static final String[] STREETS = {
        "Main Street", "Elm Street", "Maple Avenue", "Oak Lane", "Washington Street", "Cedar Road",
        "Harbor Drive", "Pleasant Street", "Highland Avenue", "Park Street", "Water Street", "School Street",
    };

    private static final String[] FEMALE_NAMES = {
        "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
        "Lisa", "Nancy", "Betty", "Sandra", "Margaret", "Ashley", "Kimberly", "Emily", "Donna", "Michelle",
        "Carol", "Amanda", "Melissa", "Deborah", "Stephanie", "Rebecca", "Sharon", "Laura", "Cynthia", "Amy",
        "Zoë", "Chloé", "Inès", "Siobhán",
    };

    private static final String[] MALE_NAMES = {
        "James", "Robert", "John", "Michael", "David", "William", "Richard", "Joseph", "Thomas", "Christopher",
        "Charles", "Daniel", "Matthew", "Anthony", "Mark", "Donald", "Steven", "Andrew", "Paul", "Joshua",
        "Kenneth", "Kevin", "Brian", "George", "Timothy", "Ronald", "Jason", "Edward", "Jeffrey", "Ryan",
        "José", "François", "Søren", "Łukasz",
    };

    private static final String[] FAMILY_NAMES = {
        "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
        "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin",
        "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson",
        "O'Brien", "Nguyen", "Kowalski", "Müller", "Ångström", "Núñez",
    };
}
