package org.lmcache4j.remote;

import io.lettuce.core.RedisCommandExecutionException;
import io.lettuce.core.RedisCommandTimeoutException;
import io.lettuce.core.RedisConnectionException;
import io.lettuce.core.RedisException;
import org.junit.jupiter.api.Test;
import org.lmcache4j.RemoteStats;

import java.net.ConnectException;
import java.util.Arrays;
import java.util.concurrent.ExecutionException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Error replies are told from transport failures, and sorted by reason. */
class RedisRefusalTest {

    @Test
    void reasons_comeFromTheReplysFirstWord() {
        assertEquals(RedisRefusal.OOM, RedisRefusal.of("OOM command not allowed when used memory > 'maxmemory'."));
        assertEquals(RedisRefusal.READONLY, RedisRefusal.of("READONLY You can't write against a read only replica."));
        assertEquals(RedisRefusal.AUTH, RedisRefusal.of("NOAUTH Authentication required."));
        assertEquals(RedisRefusal.AUTH, RedisRefusal.of("WRONGPASS invalid username-password pair or user is disabled."));
        assertEquals(RedisRefusal.MISCONF, RedisRefusal.of("MISCONF Redis is configured to save RDB snapshots, but it's"
                + " currently unable to persist to disk."));
        assertEquals(RedisRefusal.OTHER, RedisRefusal.of("WRONGTYPE Operation against a key holding the wrong kind of value"));
        assertEquals(RedisRefusal.OTHER, RedisRefusal.of(""));
        assertEquals(RedisRefusal.OTHER, RedisRefusal.of(null));
    }

    @Test
    void tags_areTheMetricsReasons() {
        assertEquals(RemoteStats.REFUSAL_REASONS, Arrays.stream(RedisRefusal.values()).map(r -> r.tag).toList());
    }

    @Test
    void authHints_sayWhatToPutInRemoteUrl() {
        assertEquals("give the password in remote_url (redis://:password@host:port)",
                RedisRefusal.AUTH.hint("NOAUTH Authentication required."));
        assertTrue(RedisRefusal.AUTH.hint("WRONGPASS invalid username-password pair").startsWith("check the user and password"));
        assertEquals("", RedisRefusal.OTHER.hint("WRONGTYPE …"));
    }

    @Test
    void replyIn_findsTheReplyWhereLettucePutsIt() {
        RedisCommandExecutionException oom = new RedisCommandExecutionException("OOM command not allowed");
        assertSame(oom, RedisRefusal.replyIn(oom));
        assertSame(oom, RedisRefusal.replyIn(new ExecutionException(oom)));
        // the handshake's NOAUTH, inside "Unable to connect"
        RedisCommandExecutionException noauth = new RedisCommandExecutionException("NOAUTH HELLO must be called …");
        assertSame(noauth, RedisRefusal.replyIn(new RedisConnectionException("Unable to connect to h:1", noauth)));
        // a cluster client's seeds, as suppressed exceptions
        RedisException partitions = new RedisException("Cannot retrieve cluster partitions");
        partitions.addSuppressed(new RedisConnectionException("Unable to connect to h:2", noauth));
        assertSame(noauth, RedisRefusal.replyIn(new RedisConnectionException("Unable to establish", partitions)));
    }

    @Test
    void transportFailures_areNotReplies() {
        assertNull(RedisRefusal.replyIn(new RedisConnectionException("Unable to connect", new ConnectException("refused"))));
        RedisCommandTimeoutException timeout = new RedisCommandTimeoutException("Command timed out after 2 second(s)");
        assertNull(RedisRefusal.replyIn(timeout));
        assertTrue(RedisRefusal.timeoutIn(new ExecutionException(timeout)));
        assertFalse(RedisRefusal.timeoutIn(new RedisException("Connection closed")));
    }

    @Test
    void describe_namesTheAddressAndTheRootCause() {
        assertEquals("Unable to connect to 127.0.0.1/<unresolved>:1: ConnectException: Connection refused",
                RemoteHealth.describe(new RedisConnectionException("Unable to connect to 127.0.0.1/<unresolved>:1",
                        new ConnectException("Connection refused"))));
        assertEquals("RedisException: Connection closed",
                RemoteHealth.describe(new ExecutionException(new RedisException("Connection closed"))));
    }

    @Test
    void timeoutMessages_sayWhatTimedOutAndAfterHowLong() {
        assertEquals("Redis GET of 3 chunks timed out after 2000 ms (remote_timeout_ms)",
                CommandFailures.timedOut("GET", 3, "", 2000, "remote_timeout_ms"));
        assertEquals("Redis SET of 1 chunk (32 MiB) timed out after 2000 ms (remote_timeout_ms)",
                CommandFailures.timedOut("SET", 1, " (32 MiB)", 2000, "remote_timeout_ms"));
    }
}
