package dev.bulkfhir.storage.files;

import dev.bulkfhir.storage.binary.BinaryContent;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;
import software.amazon.awssdk.services.s3.model.S3Exception;
import software.amazon.awssdk.services.s3.model.S3Object;
import software.amazon.awssdk.services.s3.presigner.S3Presigner;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;

/**
 * Objects in an S3-compatible store. Uploads stream: at most one part in memory ({@link #PART_SIZE};
 * the buffer grows with what was received, so a small Binary costs little), a single PUT for smaller
 * objects and a multipart upload for larger ones, which becomes visible only when completed (so no
 * reader sees half an object). Reads stream too, ranges as ranged GETs.
 */
public final class S3FileStore implements FileStore {

    /** S3 takes parts of 5 MiB and more (except the last); 8 MiB keeps memory flat and requests few. */
    static final int PART_SIZE = 8 * 1024 * 1024;
    private static final int FIRST_BUFFER = 64 * 1024;
    private static final int COPY_BUFFER = 128 * 1024;

    private final S3Settings settings;
    private final S3Client client;
    private final S3Presigner presigner;

    private S3FileStore(S3Settings settings, S3Client client, S3Presigner presigner) {
        this.settings = settings;
        this.client = client;
        this.presigner = presigner;
    }

    /**
     * Connects to the store the settings name and checks that the bucket is there and the credentials
     * reach it, so that a wrong setting stops the server at start rather than failing the first upload.
     */
    public static S3FileStore open(S3Settings settings) {
        AwsCredentialsProvider credentials = settings.accessKey() != null
                ? StaticCredentialsProvider.create(AwsBasicCredentials.create(settings.accessKey(), settings.secretKey()))
                : DefaultCredentialsProvider.builder().build();
        Region region = Region.of(settings.region());
        // Other stores are addressed by path (bucket in the path, not the host name).
        boolean pathStyle = settings.endpoint() != null;
        var builder = S3Client.builder()
                .region(region)
                .credentialsProvider(credentials)
                .httpClient(UrlConnectionHttpClient.create())
                .forcePathStyle(pathStyle)
                // Checksums only where S3 requires them: many compatible stores reject the newer trailers.
                .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
                .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
        var presign = S3Presigner.builder()
                .region(region)
                .credentialsProvider(credentials)
                .serviceConfiguration(S3Configuration.builder().pathStyleAccessEnabled(pathStyle).build());
        if (settings.endpoint() != null) {
            builder.endpointOverride(settings.endpoint());
            presign.endpointOverride(settings.endpoint());
        }
        S3FileStore store = new S3FileStore(settings, builder.build(), presign.build());
        try {
            store.client.headBucket(request -> request.bucket(settings.bucket()));
        } catch (SdkException e) {
            store.close();
            throw new IllegalStateException("Cannot reach the bucket of " + settings.describe() + ": " + e.getMessage(), e);
        }
        return store;
    }

    @Override
    public FileUpload create(String key) {
        return new Upload(objectKey(key));
    }

    @Override
    public BinaryContent content(String key, long size) {
        return new S3Content(objectKey(key), size);
    }

    @Override
    public void delete(String key) throws IOException {
        try {
            client.deleteObject(request -> request.bucket(settings.bucket()).key(objectKey(key)));
        } catch (SdkException e) {
            throw new IOException("Could not delete " + key + " from " + describe() + ": " + e.getMessage(), e);
        }
    }

    @Override
    public List<String> list(String prefix) throws IOException {
        if (!prefix.endsWith("/")) {
            throw new IllegalArgumentException("Not a folder prefix: " + prefix);
        }
        List<String> keys = new ArrayList<>();
        try {
            for (S3Object object : client.listObjectsV2Paginator(request -> request.bucket(settings.bucket())
                    .prefix(objectKey(prefix))).contents()) {
                keys.add(object.key().substring(settings.prefix().length()));
            }
        } catch (SdkException e) {
            throw new IOException("Could not list " + prefix + " in " + describe() + ": " + e.getMessage(), e);
        }
        return keys;
    }

    @Override
    public String describe() {
        return settings.describe();
    }

    @Override
    public void close() {
        try {
            presigner.close();
        } finally {
            client.close();
        }
    }

    private String objectKey(String key) {
        if (key == null || key.isEmpty() || key.startsWith("/") || key.contains("..")) {
            throw new IllegalArgumentException("Not a file store key: " + key);
        }
        return settings.prefix() + key;
    }

    private IOException failure(String what, String key, SdkException e) {
        return new IOException("Could not " + what + " " + key + " in " + describe() + ": " + e.getMessage(), e);
    }

    /** Buffers one part; the first full part starts a multipart upload, a small object is one PUT. */
    private final class Upload extends FileUpload {

        private final String key;
        private byte[] part = new byte[FIRST_BUFFER];
        private final List<CompletedPart> parts = new ArrayList<>();
        private int filled;
        private String uploadId;
        private boolean done;

        Upload(String key) {
            this.key = key;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] bytes, int offset, int length) throws IOException {
            if (done) throw new IOException("Upload of " + key + " is closed");
            while (length > 0) {
                if (filled == part.length) {
                    part = Arrays.copyOf(part, Math.min(PART_SIZE, Math.max(part.length * 2, filled + length)));
                }
                int take = Math.min(length, part.length - filled);
                System.arraycopy(bytes, offset, part, filled, take);
                filled += take;
                offset += take;
                length -= take;
                if (filled == PART_SIZE) {
                    sendPart();
                }
            }
        }

        private void sendPart() throws IOException {
            try {
                if (uploadId == null) {
                    uploadId = client.createMultipartUpload(request -> request.bucket(settings.bucket()).key(key))
                            .uploadId();
                }
                int number = parts.size() + 1;
                String etag = client.uploadPart(request -> request.bucket(settings.bucket()).key(key)
                                .uploadId(uploadId).partNumber(number).contentLength((long) filled),
                        body()).eTag();
                parts.add(CompletedPart.builder().partNumber(number).eTag(etag).build());
                filled = 0;
            } catch (SdkException e) {
                throw failure("upload", key, e);
            }
        }

        /** The buffered bytes, without a copy (a retry re-reads them). */
        private RequestBody body() {
            return RequestBody.fromContentProvider(() -> new java.io.ByteArrayInputStream(part, 0, filled), filled,
                    "application/octet-stream");
        }

        @Override
        public void close() throws IOException {
            if (done) return;
            try {
                if (uploadId == null) {
                    client.putObject(request -> request.bucket(settings.bucket()).key(key)
                            .contentLength((long) filled), body());
                } else {
                    if (filled > 0) {
                        sendPart();
                    }
                    client.completeMultipartUpload(request -> request.bucket(settings.bucket()).key(key)
                            .uploadId(uploadId).multipartUpload(upload -> upload.parts(parts)));
                }
                done = true;
            } catch (SdkException e) {
                abort();
                throw failure("upload", key, e);
            } catch (IOException e) {
                abort();
                throw e;
            }
        }

        @Override
        public void abort() {
            done = true;
            if (uploadId == null) return;
            try {
                client.abortMultipartUpload(request -> request.bucket(settings.bucket()).key(key).uploadId(uploadId));
            } catch (SdkException e) {
                // the store's lifecycle rule for incomplete uploads collects it
            }
            uploadId = null;
        }
    }

    /** An object's bytes, fetched per copy (a ranged GET for a slice). */
    private final class S3Content implements BinaryContent {

        private final String key;
        private final long size;

        S3Content(String key, long size) {
            this.key = key;
            this.size = size;
        }

        @Override
        public long size() {
            return size;
        }

        @Override
        public boolean isAvailable() {
            try {
                return client.headObject(request -> request.bucket(settings.bucket()).key(key)).contentLength() >= size;
            } catch (NoSuchKeyException e) {
                return false;
            } catch (S3Exception e) {
                if (e.statusCode() == 404) return false;
                throw e;
            }
        }

        @Override
        public void copyTo(OutputStream out, long offset, long length) throws IOException {
            if (length == 0) return;
            String range = "bytes=" + offset + "-" + (offset + length - 1);
            try (ResponseInputStream<GetObjectResponse> in = client.getObject(request -> request
                    .bucket(settings.bucket()).key(key).range(range))) {
                copy(in, out, length);
            } catch (SdkException e) {
                throw failure("read", key, e);
            }
        }

        private void copy(InputStream in, OutputStream out, long length) throws IOException {
            byte[] buffer = new byte[COPY_BUFFER];
            long remaining = length;
            while (remaining > 0) {
                int read = in.read(buffer, 0, (int) Math.min(buffer.length, remaining));
                if (read < 0) {
                    throw new IOException("Object " + key + " is shorter than recorded");
                }
                out.write(buffer, 0, read);
                remaining -= read;
            }
        }

        @Override
        public Optional<URI> downloadUrl(String contentType, String contentDisposition) {
            if (!settings.redirectDownloads()) {
                return Optional.empty();
            }
            try {
                return Optional.of(presigner.presignGetObject(presign -> presign
                        .signatureDuration(settings.presignTtl())
                        .getObjectRequest(get -> get.bucket(settings.bucket()).key(key)
                                .responseContentType(contentType)
                                .responseContentDisposition(contentDisposition))).url().toURI());
            } catch (java.net.URISyntaxException e) {
                throw new IllegalStateException("The presigner made an invalid URL", e);
            }
        }
    }
}
