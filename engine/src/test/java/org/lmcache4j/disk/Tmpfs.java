package org.lmcache4j.disk;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A small tmpfs mounted for a test (the tests run as root, as CI does): a device that fills up,
 * or that turns read-only under a running tier.
 */
public final class Tmpfs implements AutoCloseable {
    public final Path mount;

    private Tmpfs(Path mount) {
        this.mount = mount;
    }

    /** Mounts a tmpfs of {@code size} ({@code mount -o size=...}: 256k, 4m) at {@code dir}. */
    public static Tmpfs mount(Path dir, String size) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        run("this test mounts a small tmpfs and needs root", "mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs",
                dir.toString());
        return new Tmpfs(dir);
    }

    public void readOnly() throws IOException, InterruptedException {
        run("remount read-only", "mount", "-o", "remount,ro", mount.toString());
    }

    public void writable() throws IOException, InterruptedException {
        run("remount read-write", "mount", "-o", "remount,rw", mount.toString());
    }

    public long usableBytes() throws IOException {
        return Files.getFileStore(mount).getUsableSpace();
    }

    /** Fills the device with a file outside the tier until {@code leave} bytes are usable. */
    public void fillLeaving(long leave) throws IOException {
        long fill = usableBytes() - leave;
        Files.write(mount.resolve("ballast"), new byte[(int) fill]);
    }

    private static void run(String what, String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), what + ": " + String.join(" ", command) + ": " + out);
    }

    @Override
    public void close() throws IOException {
        try {
            new ProcessBuilder("umount", mount.toString()).start().waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
