package org.lmcache4j.remote;

import io.lettuce.core.AbstractRedisClient;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulConnection;
import io.lettuce.core.cluster.ClusterClientOptions;
import io.lettuce.core.cluster.RedisClusterClient;
import io.lettuce.core.cluster.api.StatefulRedisClusterConnection;
import io.lettuce.core.cluster.api.async.RedisAdvancedClusterAsyncCommands;
import io.lettuce.core.cluster.api.async.RedisClusterAsyncCommands;
import io.lettuce.core.api.StatefulRedisConnection;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * One lettuce client and connection, standalone (also through Sentinel) or cluster, seen through
 * the command interface both share. Commands fail at once while disconnected instead of queueing
 * (a queue would grow without bound while Redis is down) and time out after the tier's timeout;
 * lettuce reconnects in the background.
 */
final class RedisLink implements AutoCloseable {
    private final AbstractRedisClient client;
    private final StatefulConnection<String, RecordCodec.Outgoing> connection;
    private final RedisClusterAsyncCommands<String, RecordCodec.Outgoing> commands;

    private RedisLink(AbstractRedisClient client, StatefulConnection<String, RecordCodec.Outgoing> connection,
                      RedisClusterAsyncCommands<String, RecordCodec.Outgoing> commands) {
        this.client = client;
        this.connection = connection;
        this.commands = commands;
    }

    /** Connects, or throws a lettuce exception when Redis cannot be reached. */
    static RedisLink connect(RemoteUrl url, Duration timeout) {
        TimeoutOptions timeouts = TimeoutOptions.enabled(timeout);
        if (url.cluster()) {
            RedisClusterClient client = RedisClusterClient.create(url.uris());
            // Node connections open on first use, so a cluster client must accept commands while one is
            // connecting; the timeout still bounds every command.
            client.setOptions(ClusterClientOptions.builder().autoReconnect(true).timeoutOptions(timeouts)
                    .disconnectedBehavior(ClientOptions.DisconnectedBehavior.ACCEPT_COMMANDS).build());
            try {
                StatefulRedisClusterConnection<String, RecordCodec.Outgoing> c = client.connect(RecordCodec.INSTANCE);
                return new RedisLink(client, c, c.async());
            } catch (RuntimeException e) {
                client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
                throw e;
            }
        }
        RedisClient client = RedisClient.create();
        client.setOptions(ClientOptions.builder().autoReconnect(true).timeoutOptions(timeouts)
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS).build());
        try {
            StatefulRedisConnection<String, RecordCodec.Outgoing> c = client.connect(RecordCodec.INSTANCE, url.uris().getFirst());
            return new RedisLink(client, c, c.async());
        } catch (RuntimeException e) {
            client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
            throw e;
        }
    }

    RedisClusterAsyncCommands<String, RecordCodec.Outgoing> commands() {
        return commands;
    }

    /**
     * {@code INFO memory}, sent to every server that holds data: the one server (through Sentinel,
     * the current master), or each master of a cluster (lettuce would send a plain INFO to one node).
     */
    List<CompletableFuture<String>> memoryInfo() {
        if (commands instanceof RedisAdvancedClusterAsyncCommands<String, RecordCodec.Outgoing> cluster) {
            return List.of(cluster.masters().commands().info("memory").futures());
        }
        return List.of(commands.info("memory").toCompletableFuture());
    }

    boolean open() {
        return connection.isOpen();
    }

    @Override
    public void close() {
        connection.close();
        client.shutdown(Duration.ZERO, Duration.ofSeconds(2));
    }
}
