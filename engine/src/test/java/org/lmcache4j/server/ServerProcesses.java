package org.lmcache4j.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.concurrent.TimeUnit;

/** {@code lmcache4j server} as a process of its own, for the tests that stop, kill or restart it. */
public final class ServerProcesses {
    private ServerProcesses() {
    }

    /** A socket's path in a new directory {@code run} under {@code tmp} that only its owner may enter (mode 0700). */
    public static Path privateSocket(Path tmp) throws IOException {
        return Files.createDirectories(tmp.resolve("run"), PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------"))).resolve("engine.sock");
    }

    /** Starts {@code lmcache4j server} (the CLI's main) and returns once it accepts connections (its log says it listens). */
    public static Process start(Path socket, Path config, Path log) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                "org.lmcache4j.cli.Main", "server", "--socket", socket.toString(), "--config", config.toString())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(log.toFile()).start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(log) || !Files.readString(log).contains("LMCache4j server listening")) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                p.destroyForcibly();
                throw new AssertionError("the server did not start: " + Files.readString(log));
            }
            Thread.sleep(20);
        }
        return p;
    }
}
