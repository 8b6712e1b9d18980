package org.lmcache4j.server;

import org.lmcache4j.KeyScope;
import org.lmcache4j.TestCaches;

import java.nio.file.Path;
import java.util.Random;

/**
 * A client process for {@link KilledClientTest}: pins a prompt, then stores another and, in the
 * middle of its COPY (half of the first page written), says so on stdout and waits to be killed.
 * Arguments: the socket.
 */
public final class KilledClientChild {
    private KilledClientChild() {
    }

    public static void main(String[] args) throws Exception {
        TestCaches caches = new TestCaches(ServerTest.LAYOUT);
        caches.fillRandom(5);
        ServerClient c = ServerClient.connect(Path.of(args[0]), "m", ServerTest.LAYOUT, ServerTest.SETTINGS);
        c.registerKvCaches(caches.layers);
        c.lookup(KeyScope.NONE, KilledClientTest.PINNED, "pinned-by-the-child");
        c.copying(WireProtocol.STORE, KeyScope.NONE, KilledClientTest.STORED,
                TestCaches.randomSlots(ServerTest.LAYOUT, KilledClientTest.STORED.length, new Random(2)), 0, (client, ops) -> {
                    client.page(ops.getFirst()).asSlice(0, client.pageBytes() / 2).fill((byte) 7);
                    System.out.println("copying");
                    System.out.flush();
                    try {
                        Thread.sleep(60_000); // killed here
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                    return null;
                });
        System.exit(3); // never reached
    }
}
