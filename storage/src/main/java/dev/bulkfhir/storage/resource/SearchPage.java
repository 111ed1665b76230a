package dev.bulkfhir.storage.resource;

import java.util.List;

/** One page of a {@link ResourceQuery}, with the cursors to its neighbours (null: none). */
public record SearchPage(List<StoredResource> resources, ResourceQuery.Cursor next, ResourceQuery.Cursor previous) {}
