package dev.bulkfhir.server.binary;

import dev.bulkfhir.server.ServerSettings;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.hl7.fhir.r4.model.Attachment;
import org.hl7.fhir.r4.model.Binary;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.DocumentReference;
import org.hl7.fhir.r4.model.Enumerations;
import org.hl7.fhir.r4.model.IdType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

import static dev.bulkfhir.server.binary.BinaryServer.header;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The Binary storage (bytea rows, file store, titles) on PostgreSQL, through the same HTTP API. */
class BinaryPostgresTest {

    @Test
    void binariesOnPostgreSql(@TempDir Path dataDir) throws Exception {
        try (EmbeddedPostgres postgres = EmbeddedPostgres.builder().start()) {
            ServerSettings settings = ServerSettings.builder(dataDir)
                    .jdbc(postgres.getJdbcUrl("postgres", "postgres"), "postgres", null).build();
            try (BinaryServer server = new BinaryServer(settings)) {
                byte[] small = "inline in bytea".getBytes(StandardCharsets.UTF_8);
                byte[] large = BinaryEndpointTest.random(500_000, 99);
                String inline = server.createRaw(small, "text/plain", "X-Security-Context", "Patient/pg");
                String filed = server.createRaw(large, "application/pdf");

                assertArrayEquals(small, server.get("/Binary/" + inline).body());
                assertEquals("Patient/pg", header(server.get("/Binary/" + inline), "X-Security-Context"));
                assertArrayEquals(large, server.get("/Binary/" + filed).body());
                HttpResponse<byte[]> range = server.get("/Binary/" + filed, "Range", "bytes=1000-1999");
                assertArrayEquals(Arrays.copyOfRange(large, 1000, 2000), range.body());
                Binary wrapped = server.client.read().resource(Binary.class).withId(filed).execute();
                assertArrayEquals(large, wrapped.getContent());

                server.send("PUT", "/Binary/" + inline, "second".getBytes(StandardCharsets.UTF_8),
                        "Content-Type", "text/plain");
                assertArrayEquals(small, server.get("/Binary/" + inline + "/_history/1").body());
                Bundle found = server.client.search().forResource(Binary.class)
                        .where(org.hl7.fhir.r4.model.Resource.RES_ID.exactly().code(inline))
                        .returnBundle(Bundle.class).execute();
                assertArrayEquals("second".getBytes(StandardCharsets.UTF_8),
                        ((Binary) found.getEntryFirstRep().getResource()).getContent());

                DocumentReference reference = new DocumentReference();
                reference.setStatus(Enumerations.DocumentReferenceStatus.CURRENT);
                Attachment attachment = reference.addContent().getAttachment();
                attachment.setUrl("Binary/" + filed).setTitle("scan.pdf");
                server.client.create().resource(reference).execute();
                assertEquals("attachment; filename=\"scan.pdf\"",
                        header(server.get("/Binary/" + filed + "/$binary-access-read"), "Content-Disposition"));

                server.client.delete().resourceById(new IdType("Binary", filed)).execute();
                assertEquals(410, server.get("/Binary/" + filed).statusCode());
            }
        }
    }
}
