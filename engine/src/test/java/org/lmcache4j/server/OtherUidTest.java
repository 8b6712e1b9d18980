package org.lmcache4j.server;

import org.junit.jupiter.api.Test;
import org.lmcache4j.memory.UnixSockets;
import org.lmcache4j.metrics.MetricsRegistry;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A client of another uid is refused, twice over: the socket's private directory keeps it out,
 * and where that is loosened behind the server's back, the server's own peer-credential check
 * answers ERROR naming both uids. It needs to switch uid: it runs as root (as CI does) with
 * {@code setpriv} and {@code /usr/bin/python3} for the tiny client, and is reported skipped, saying
 * so, elsewhere.
 */
class OtherUidTest {
    private static final int NOBODY = 65534;
    /** A HELLO (its send may fail: the refusal comes first), then the answer's type, status and message on a line. */
    private static final String CLIENT = """
            import socket, struct, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(sys.argv[1])
            except OSError as e:
                print("connect-failed", e.errno); sys.exit(0)
            def st(t): b = t.encode(); return struct.pack('<I', len(b)) + b
            body = struct.pack('<IIII', 0x34434D4C, 1, 0, 0) + st('m') + struct.pack('<iiiii', 1, 0, 2, 2, 8) + st('bfloat16') \\
                + struct.pack('<ii', 16, 512) + st('flash_attn') + struct.pack('<I', 0xFFFFFFFF)
            try:
                s.sendall(struct.pack('<IHH', len(body), 1, 0) + body)
            except OSError:
                pass  # the server refuses a peer before reading its hello: its answer is there to read
            def full(n):
                b = b''
                while len(b) < n:
                    c = s.recv(n - len(b))
                    if not c: raise SystemExit('closed')
                    b += c
                return b
            n, t, _ = struct.unpack('<IHH', full(8)); body = full(n)
            status, ln = struct.unpack('<iI', body[:8])
            print("answer", t, status, body[8:8 + ln].decode())
            """;

    @Test
    void anotherUid_isKeptOutByTheDirectory_andRefusedByPeerCredentials() throws Exception {
        boolean root = UnixSockets.require().effectiveUid() == 0;
        boolean tools = Files.isExecutable(Path.of("/usr/bin/setpriv")) && Files.isExecutable(Path.of("/usr/bin/python3"));
        if (!root || !tools) {
            System.err.println("OtherUidTest did not run: it needs root, /usr/bin/setpriv and /usr/bin/python3"
                    + " to connect as uid " + NOBODY + " (root " + root + ", tools " + tools + ")");
        }
        assumeTrue(root && tools, "switching uid needs root, setpriv and /usr/bin/python3");
        // Straight under /tmp: the test's own temporary folders may sit in a folder that uid cannot enter.
        Path top = Files.createTempDirectory(Path.of("/tmp"), "l4j-uid-", PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx--x--x")));
        Path dir = Files.createDirectory(top.resolve("run"), PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        Path socket = dir.resolve("engine.sock");
        try (EngineServer server = EngineServer.start(socket, null, Map.of(), new MetricsRegistry(), Duration.ofSeconds(5))) {
            String out = asNobody(socket);
            assertTrue(out.startsWith("connect-failed 13"), "the private directory keeps another uid out: " + out);

            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x")); // behind the server's back
            Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw-rw-"));
            out = asNobody(socket);
            assertTrue(out.startsWith("answer " + WireProtocol.ERROR + " 2 "), out);
            assertTrue(out.contains("uid " + NOBODY) && out.contains("uid 0"), "the refusal names both uids: " + out);
            assertEquals(null, server.engine(), "a refused client opens no engine");
        } finally {
            Files.deleteIfExists(socket);
            Files.deleteIfExists(dir);
            Files.deleteIfExists(top);
        }
    }

    private static String asNobody(Path socket) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("/usr/bin/setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups",
                "/usr/bin/python3", "-c", CLIENT, socket.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
        assertEquals(0, p.waitFor(), out);
        return out;
    }
}
