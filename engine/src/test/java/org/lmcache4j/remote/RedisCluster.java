package org.lmcache4j.remote;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/** A Redis Cluster of three masters on loopback, made with {@code redis-cli --cluster create}. */
public final class RedisCluster implements AutoCloseable {
    private final List<RedisServer> nodes;

    private RedisCluster(List<RedisServer> nodes) {
        this.nodes = nodes;
    }

    public static RedisCluster startThreeMasters() throws IOException, InterruptedException {
        List<RedisServer> nodes = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                int port = RedisServer.freePort();
                nodes.add(RedisServer.start(port, "--cluster-enabled", "yes", "--cluster-config-file",
                        "nodes-" + port + ".conf", "--cluster-node-timeout", "5000"));
            }
            List<String> create = new ArrayList<>(List.of("--cluster", "create"));
            nodes.forEach(n -> create.add("127.0.0.1:" + n.port));
            create.addAll(List.of("--cluster-replicas", "0", "--cluster-yes"));
            String out = nodes.getFirst().cli(create.toArray(String[]::new));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!nodes.stream().allMatch(RedisCluster::ok)) {
                if (System.nanoTime() > deadline) {
                    throw new IOException("the cluster did not reach cluster_state:ok: " + out);
                }
                Thread.sleep(50);
            }
            return new RedisCluster(nodes);
        } catch (IOException | InterruptedException | RuntimeException e) {
            nodes.forEach(RedisServer::close);
            throw e;
        }
    }

    private static boolean ok(RedisServer n) {
        try {
            return n.cli("cluster", "info").contains("cluster_state:ok");
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    public String url() {
        return "redis-cluster://" + nodes.stream().map(n -> "127.0.0.1:" + n.port).collect(Collectors.joining(","));
    }

    /** The three masters. */
    public List<RedisServer> nodes() {
        return nodes;
    }

    /** Keys per node: how the chunks spread. */
    public List<Long> keysPerNode() throws IOException, InterruptedException {
        List<Long> counts = new ArrayList<>();
        for (RedisServer n : nodes) {
            counts.add(Long.parseLong(n.cli("dbsize").trim()));
        }
        return counts;
    }

    @Override
    public void close() {
        nodes.forEach(RedisServer::close);
    }
}
