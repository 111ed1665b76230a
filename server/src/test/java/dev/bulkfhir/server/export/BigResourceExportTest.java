package dev.bulkfhir.server.export;

import com.fasterxml.jackson.databind.JsonNode;
import dev.bulkfhir.providers.export.ExportSettings;
import dev.bulkfhir.storage.Database;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Attachment;
import org.hl7.fhir.r4.model.DocumentReference;
import org.hl7.fhir.r4.model.Media;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Resources of megabytes each (inline attachments) export whole and exactly, when the export's pages
 * end by size after a row or two rather than by count, and types are cut into ranges.
 * (bench/big-attachments.sh shows the memory side: thousands of 5 MB resources at -Xmx512m.)
 */
class BigResourceExportTest {

    static final int DOCUMENTS = 20;
    static final int MEDIA = 10;

    @Test
    void resourcesOfMegabytesExportWholeWhenPagesEndBySize(@TempDir Path dataDir) throws Exception {
        ExportSettings settings = ExportSettings.defaults().withWorkers(2).withRangeResources(6)
                .withFileLimits(1000, 8L * 1024 * 1024);
        try (EmbeddedExportServer server = new EmbeddedExportServer(dataDir, Database.h2Url(dataDir), null, settings,
                3, 3L * 1024 * 1024)) {
            Map<String, byte[]> stored = new HashMap<>();
            for (int i = 0; i < DOCUMENTS + MEDIA; i++) {
                byte[] content = new byte[(1 + i % 3) * 1024 * 1024 - i]; // 1 to 3 MB
                new Random(i).nextBytes(content);
                Attachment attachment = new Attachment().setContentType("application/octet-stream").setData(content);
                if (i < DOCUMENTS) {
                    DocumentReference document = new DocumentReference();
                    document.setId("doc-" + i);
                    document.setStatus(org.hl7.fhir.r4.model.Enumerations.DocumentReferenceStatus.CURRENT);
                    document.addContent().setAttachment(attachment);
                    server.store.update(document);
                    stored.put("DocumentReference/doc-" + i, content);
                } else {
                    Media media = new Media();
                    media.setId("media-" + i);
                    media.setStatus(Media.MediaStatus.COMPLETED);
                    media.setContent(attachment);
                    server.store.update(media);
                    stored.put("Media/media-" + i, content);
                }
            }

            BulkClient client = new BulkClient(server.base);
            JsonNode manifest = client.await(client.start("$export?_type=DocumentReference,Media"));
            assertEquals(0, manifest.get("error").size());
            assertTrue(manifest.get("output").size() > 2, "ranges and 8 MB files make several files per type");
            Map<String, List<IBaseResource>> exported = client.download(manifest);
            int seen = 0;
            for (IBaseResource resource : exported.get("DocumentReference")) {
                DocumentReference document = (DocumentReference) resource;
                assertArrayEquals(stored.get("DocumentReference/" + document.getIdElement().getIdPart()),
                        document.getContentFirstRep().getAttachment().getData());
                seen++;
            }
            for (IBaseResource resource : exported.get("Media")) {
                Media media = (Media) resource;
                assertArrayEquals(stored.get("Media/" + media.getIdElement().getIdPart()), media.getContent().getData());
                seen++;
            }
            assertEquals(DOCUMENTS + MEDIA, seen, "each resource once");
            assertEquals(DOCUMENTS, exported.get("DocumentReference").stream()
                    .map(r -> r.getIdElement().getIdPart()).distinct().count());
        }
    }
}
