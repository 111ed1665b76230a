package dev.bulkfhir.storage.files;

import org.junit.jupiter.api.Test;

import java.net.URI;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class S3SettingsTest {

    @Test
    void parsesBucketAndPrefix() {
        S3Settings settings = S3Settings.parse("s3://my-bucket/a/b", null, null, null, null, false, null);
        assertEquals("my-bucket", settings.bucket());
        assertEquals("a/b/", settings.prefix());
        assertEquals("a/", S3Settings.parse("s3://my-bucket/a/", null, null, null, null, false, null).prefix());
        assertEquals("us-east-1", settings.region());
        assertEquals(S3Settings.DEFAULT_PRESIGN_TTL, settings.presignTtl());
        assertEquals("", S3Settings.parse("s3://my-bucket", null, "eu-west-1", null, null, false, null).prefix());
        assertTrue(S3Settings.isS3Url("S3://x"));
        assertFalse(S3Settings.isS3Url("/mnt/s3"));
    }

    @Test
    void refusesWhatCannotWork() {
        assertThrows(IllegalArgumentException.class,
                () -> S3Settings.parse("s3://Bad_Bucket", null, null, null, null, false, null));
        assertThrows(IllegalArgumentException.class,
                () -> S3Settings.parse("s3://bucket", null, null, "key-only", null, false, null));
        assertThrows(IllegalArgumentException.class,
                () -> S3Settings.parse("s3://bucket", null, null, null, null, true, Duration.ofDays(8)));
    }

    @Test
    void describeNeverShowsTheSecret() {
        S3Settings settings = S3Settings.parse("s3://bucket/p", URI.create("http://127.0.0.1:9000"), null, "AKIA",
                "very-secret", true, Duration.ofMinutes(2));
        assertFalse(settings.describe().contains("very-secret"));
        assertTrue(settings.describe().contains("redirected"), settings.describe());
    }
}
