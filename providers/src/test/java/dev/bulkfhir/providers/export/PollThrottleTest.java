package dev.bulkfhir.providers.export;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class PollThrottleTest {

    private static final long SECOND = 1_000_000_000L;

    @Test
    void pollingAtRetryAfterIsNeverThrottled() {
        PollThrottle throttle = new PollThrottle();
        for (int i = 0; i < 1000; i++) {
            assertEquals(0, throttle.poll("job", 2, i * 2 * SECOND));
        }
    }

    @Test
    void aLoopIsThrottledUntilItsWindowEndsThenAnsweredAgain() {
        PollThrottle throttle = new PollThrottle();
        long now = 0;
        for (int i = 0; i < PollThrottle.POLLS_PER_WINDOW; i++) {
            assertEquals(0, throttle.poll("job", 5, now += SECOND / 1000));
        }
        assertEquals(5, throttle.poll("job", 5, now += SECOND / 1000));
        assertEquals(2, throttle.poll("job", 5, now + 3 * SECOND));
        assertEquals(0, throttle.poll("job", 5, 6 * SECOND));
        assertEquals(0, throttle.poll("other", 5, 6 * SECOND), "each job has its own window");
    }
}
