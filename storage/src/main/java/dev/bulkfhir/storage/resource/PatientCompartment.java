package dev.bulkfhir.storage.resource;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.RuntimeSearchParam;
import ca.uhn.fhir.util.FhirTerser;
import org.hl7.fhir.instance.model.api.IBaseReference;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.instance.model.api.IDomainResource;
import org.hl7.fhir.instance.model.api.IIdType;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Which patients' compartments hold a resource, from the R4 Patient CompartmentDefinition as
 * HAPI's resource definitions carry it. A Patient is in its own compartment.
 *
 * <p>Every write asks this, so the search parameter paths of each type are worked out once: the R4
 * paths are plain element paths ({@code Encounter.subject}) or such a path with
 * {@code .where(resolve() is Type)}. References at those paths to {@code Patient/[id]} are the
 * owners, as {@link FhirTerser#getCompartmentOwnersForResource} finds them (it drops a base URL, so
 * an absolute reference counts too). A type with any other kind of path, and a resource with contained resources, are left to
 * HAPI's terser.
 */
public final class PatientCompartment {

    private static final Pattern WHERE_RESOLVE_IS = Pattern.compile("([A-Za-z.]+)\\.where\\(resolve\\(\\) is ([A-Za-z]+)\\)");
    private static final Pattern PLAIN_PATH = Pattern.compile("[A-Za-z]+(\\.[A-Za-z]+)+");
    /** Stands for a type whose paths only HAPI's terser can follow. */
    private static final List<String> USE_TERSER = List.of();

    private final FhirContext context;
    private final FhirTerser terser;
    /** Per resource type: the element paths that may hold a Patient reference; empty if none. */
    private final ConcurrentHashMap<String, List<String>> pathsByType = new ConcurrentHashMap<>();
    /** The same paths as a tree of element names, for {@link SourceJson.Reader}. */
    private final ConcurrentHashMap<String, PathTree> treesByType = new ConcurrentHashMap<>();

    public PatientCompartment(FhirContext context) {
        this.context = context;
        this.terser = context.newTerser(); // holds nothing but the context: safe to share
    }

    public Set<String> patientIds(IBaseResource resource) {
        Set<String> ids = new LinkedHashSet<>();
        String type = context.getResourceType(resource);
        if ("Patient".equals(type) && resource.getIdElement().hasIdPart()) {
            ids.add(resource.getIdElement().getIdPart());
        }
        List<String> paths = pathsByType.computeIfAbsent(type, this::paths);
        if (paths == USE_TERSER
                || (resource instanceof IDomainResource domain && !domain.getContained().isEmpty())) {
            if (!context.getResourceDefinition(type).getSearchParamsForCompartmentName("Patient").isEmpty()) {
                for (IIdType owner : terser.getCompartmentOwnersForResource("Patient", resource, Set.of())) {
                    addIfLocalPatient(owner, ids);
                }
            }
            return ids;
        }
        for (String path : paths) {
            for (IBaseReference reference : terser.getValues(resource, path, IBaseReference.class)) {
                // As the terser's owners: type and id, whatever the base URL (an absolute reference counts).
                addIfPatient(reference.getReferenceElement(), ids);
            }
        }
        return ids;
    }

    /**
     * The type's compartment paths as a tree of element names (for a choice element, its name without
     * the type: {@code value}), or null if only HAPI's terser can follow them.
     */
    PathTree pathTree(String type) {
        PathTree tree = treesByType.computeIfAbsent(type, this::tree);
        return tree == PathTree.NONE ? null : tree;
    }

    private PathTree tree(String type) {
        List<String> paths = pathsByType.computeIfAbsent(type, this::paths);
        if (paths == USE_TERSER) return PathTree.NONE;
        PathTree root = new PathTree();
        for (String path : paths) {
            PathTree node = root;
            String[] steps = path.split("\\.");
            for (int i = 1; i < steps.length; i++) { // steps[0] is the type
                node = node.children.computeIfAbsent(steps[i], name -> new PathTree());
            }
            node.holdsOwners = true;
        }
        return root;
    }

    /**
     * One element on the way to a compartment's references: the elements under it by name, and
     * whether the references at this element name their owners.
     */
    static final class PathTree {
        static final PathTree NONE = new PathTree();

        final Map<String, PathTree> children = new HashMap<>();
        boolean holdsOwners;
    }

    /** Adds the patient a reference names, as {@link #patientIds} reads the references it finds. */
    static void addIfPatient(IIdType target, Set<String> ids) {
        if (target != null && "Patient".equals(target.getResourceType()) && target.hasIdPart()) {
            ids.add(target.getIdPart());
        }
    }

    private static void addIfLocalPatient(IIdType owner, Set<String> ids) {
        if (owner != null && "Patient".equals(owner.getResourceType()) && owner.hasIdPart() && !owner.hasBaseUrl()) {
            ids.add(owner.getIdPart());
        }
    }

    /** The paths of the type's Patient compartment search parameters, or {@link #USE_TERSER}. */
    private List<String> paths(String type) {
        Set<String> paths = new LinkedHashSet<>();
        for (RuntimeSearchParam param : context.getResourceDefinition(type).getSearchParamsForCompartmentName("Patient")) {
            for (String path : param.getPathsSplitForResourceType(type)) {
                path = path.trim();
                Matcher where = WHERE_RESOLVE_IS.matcher(path);
                if (where.matches()) {
                    // Only references to the named type count: other types hold no Patient reference.
                    if (where.group(2).equals("Patient")) paths.add(where.group(1));
                } else if (PLAIN_PATH.matcher(path).matches()) {
                    paths.add(path);
                } else {
                    return USE_TERSER;
                }
            }
        }
        return new ArrayList<>(paths);
    }
}
