package dev.bulkfhir.storage.files;

import java.net.URI;
import java.time.Duration;
import java.util.Locale;

/**
 * An S3-compatible object store.
 *
 * @param bucket            the bucket (it must exist)
 * @param prefix            prepended to every key, e.g. {@code bulkfhir/}; empty for none
 * @param endpoint          the store's URL for a store other than AWS (MinIO, Ceph, S3Proxy...; path-style
 *                          requests then); null: AWS, by region
 * @param region            the region to sign for (any name for most other stores)
 * @param accessKey         null: the SDK's default credentials chain (environment, profile, instance role)
 * @param secretKey         with {@code accessKey}
 * @param redirectDownloads whether downloads are answered with a redirect to a presigned URL rather than
 *                          streamed through the server
 * @param presignTtl        how long a presigned URL stays valid
 */
public record S3Settings(String bucket, String prefix, URI endpoint, String region, String accessKey,
        String secretKey, boolean redirectDownloads, Duration presignTtl) {

    public static final Duration DEFAULT_PRESIGN_TTL = Duration.ofMinutes(5);
    /** SigV4 presigned URLs live at most a week. */
    private static final Duration MAX_PRESIGN_TTL = Duration.ofDays(7);

    public S3Settings {
        if (bucket == null || !bucket.matches("[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")) {
            throw new IllegalArgumentException("Not an S3 bucket name: " + bucket);
        }
        String trimmed = prefix == null ? "" : prefix.replaceAll("^/+|/+$", "");
        prefix = trimmed.isEmpty() ? "" : trimmed + "/";
        if (prefix.contains("//") || prefix.contains("..")) {
            throw new IllegalArgumentException("Not a usable key prefix: " + prefix);
        }
        if (region == null || region.isBlank()) {
            region = "us-east-1";
        }
        if ((accessKey == null) != (secretKey == null)) {
            throw new IllegalArgumentException("Give both the S3 access key and the secret key, or neither");
        }
        if (presignTtl == null) {
            presignTtl = DEFAULT_PRESIGN_TTL;
        }
        if (presignTtl.isNegative() || presignTtl.isZero() || presignTtl.compareTo(MAX_PRESIGN_TTL) > 0) {
            throw new IllegalArgumentException("The presigned URL lifetime must be between 1 second and 7 days, not "
                    + presignTtl);
        }
    }

    /** {@code s3://bucket} or {@code s3://bucket/prefix}; the other fields from the arguments. */
    public static S3Settings parse(String url, URI endpoint, String region, String accessKey, String secretKey,
            boolean redirectDownloads, Duration presignTtl) {
        if (!isS3Url(url)) {
            throw new IllegalArgumentException("Not an s3:// URL: " + url);
        }
        String rest = url.substring("s3://".length());
        int slash = rest.indexOf('/');
        String bucket = slash < 0 ? rest : rest.substring(0, slash);
        String prefix = slash < 0 ? "" : rest.substring(slash + 1);
        return new S3Settings(bucket, prefix, endpoint, region, accessKey, secretKey, redirectDownloads, presignTtl);
    }

    public static boolean isS3Url(String location) {
        return location != null && location.toLowerCase(Locale.ROOT).startsWith("s3://");
    }

    /** For logs and banners: never the secret. */
    public String describe() {
        return "s3://" + bucket + "/" + prefix + (endpoint != null ? " at " + endpoint : " in " + region)
                + (redirectDownloads ? ", downloads redirected (presigned for " + presignTtl.toSeconds() + " s)"
                        : ", downloads streamed");
    }
}
