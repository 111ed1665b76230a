package dev.bulkfhir.storage.jpa;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.jpa.api.dao.DaoRegistry;
import ca.uhn.fhir.jpa.binary.api.IBinaryStorageSvc;
import ca.uhn.fhir.jpa.binary.api.StoredDetails;
import ca.uhn.fhir.model.api.ResourceMetadataKeyEnum;
import ca.uhn.fhir.rest.api.server.SystemRequestDetails;
import ca.uhn.fhir.rest.server.exceptions.BaseServerResponseException;
import ca.uhn.fhir.rest.server.exceptions.ResourceGoneException;
import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import ca.uhn.fhir.util.HapiExtensions;
import dev.bulkfhir.storage.binary.BinaryContent;
import dev.bulkfhir.storage.binary.BinaryDocument;
import dev.bulkfhir.storage.binary.BinarySource;
import org.hl7.fhir.instance.model.api.IIdType;
import org.hl7.fhir.r4.model.Binary;
import org.hl7.fhir.r4.model.Extension;
import org.hl7.fhir.r4.model.IdType;
import org.springframework.context.ApplicationContext;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Optional;

/**
 * A HAPI JPA server's own Binary resources, read through its Binary DAO, so that the plugin's native and
 * wrapped Binary reads and downloads serve them. Content the host keeps inline comes from the resource;
 * content its binary storage externalized (HAPI's {@code externalized-binary-id} extension) is streamed
 * from that storage, in slices, never whole.
 */
public final class JpaBinarySource implements BinarySource {

    private final FhirContext context;
    private final DaoRegistry daos;
    private final IBinaryStorageSvc binaryStorage;

    /** @param binaryStorage the host's binary storage, or null if it keeps all Binary content inline */
    public JpaBinarySource(DaoRegistry daos, IBinaryStorageSvc binaryStorage) {
        this.context = daos.getFhirContext();
        this.daos = daos;
        this.binaryStorage = binaryStorage;
    }

    /** The Binaries of the HAPI JPA server whose Spring context this is, with its binary storage if it has one. */
    public static JpaBinarySource of(ApplicationContext host) {
        return new JpaBinarySource(host.getBean(DaoRegistry.class),
                host.getBeanProvider(IBinaryStorageSvc.class).getIfAvailable());
    }

    @Override
    public Optional<BinaryDocument> find(String id, Long version) {
        IIdType target = version == null ? new IdType("Binary", id) : new IdType("Binary", id, version.toString());
        Binary binary;
        try {
            binary = (Binary) daos.getResourceDao("Binary").read(target, SystemRequestDetails.forAllPartitions(), true);
        } catch (ResourceGoneException e) {
            // A deleted version read by number comes as 410 without a body; the id and version are all we know.
            return Optional.of(new BinaryDocument(id, version == null ? 0 : version, null, true, null, null, null,
                    null, null));
        } catch (ResourceNotFoundException e) {
            return Optional.empty();
        } catch (BaseServerResponseException e) {
            return Optional.empty(); // e.g. an id the server cannot hold: for this source it does not exist
        }
        long versionId = Long.parseLong(binary.getIdElement().getVersionIdPart());
        java.time.Instant lastUpdated = binary.getMeta().getLastUpdated() == null
                ? null : binary.getMeta().getLastUpdated().toInstant();
        if (ResourceMetadataKeyEnum.DELETED_AT.get(binary) != null) {
            return Optional.of(new BinaryDocument(id, versionId, lastUpdated, true, null, null, null, null, null));
        }
        String securityContext = binary.hasSecurityContext() ? binary.getSecurityContext().getReference() : null;
        return Optional.of(new BinaryDocument(id, versionId, lastUpdated, false, binary.getContentType(),
                securityContext, null, jsonWithoutData(binary), content(binary)));
    }

    private BinaryContent content(Binary binary) {
        byte[] inline = binary.getDataElement().getValue(); // hasData() is also true for the extension alone
        Extension externalized = binary.getDataElement().getExtensionByUrl(HapiExtensions.EXT_EXTERNALIZED_BINARY_ID);
        if (externalized == null || inline != null) {
            return BinaryContent.of(inline != null ? inline : new byte[0]);
        }
        if (binaryStorage == null) {
            throw new IllegalStateException(binary.getIdElement().toUnqualifiedVersionless()
                    + " keeps its content in the host's binary storage, but this source was given none");
        }
        IIdType owner = binary.getIdElement().toUnqualifiedVersionless();
        String contentId = externalized.getValueAsPrimitive().getValueAsString();
        return new StoredContent(binaryStorage, owner, contentId, size(owner, contentId));
    }

    private long size(IIdType owner, String contentId) {
        try {
            StoredDetails details = binaryStorage.fetchBinaryContentDetails(owner, contentId);
            if (details == null) {
                throw new IllegalStateException("The content of " + owner + " (" + contentId + ") is missing from"
                        + " the host's binary storage");
            }
            return details.getBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private byte[] jsonWithoutData(Binary binary) {
        Binary withoutData = binary.copy();
        withoutData.setDataElement(null);
        withoutData.getMeta().setVersionId(binary.getIdElement().getVersionIdPart());
        return context.newJsonParser().encodeResourceToString(withoutData).getBytes(StandardCharsets.UTF_8);
    }

    /** Content in the host's binary storage: each copy is one streamed read of the stored bytes, skipped to the slice. */
    private record StoredContent(IBinaryStorageSvc storage, IIdType owner, String contentId, long size)
            implements BinaryContent {

        @Override
        public void copyTo(OutputStream out, long offset, long length) throws IOException {
            try (SliceStream slice = new SliceStream(out, offset, length)) {
                storage.writeBinaryContent(owner, contentId, slice);
            }
        }
    }

    /** Passes on only bytes [offset, offset + length) of what is written to it. */
    private static final class SliceStream extends OutputStream {
        private final OutputStream out;
        private final long start;
        private final long end;
        private long position;

        SliceStream(OutputStream out, long offset, long length) {
            this.out = out;
            this.start = offset;
            this.end = offset + length;
        }

        @Override
        public void write(int b) throws IOException {
            if (position >= start && position < end) out.write(b);
            position++;
        }

        @Override
        public void write(byte[] bytes, int off, int len) throws IOException {
            long from = Math.max(position, start);
            long to = Math.min(position + len, end);
            if (from < to) out.write(bytes, off + (int) (from - position), (int) (to - from));
            position += len;
        }

        @Override
        public void close() {
            // the caller's stream stays open
        }
    }
}
