package org.lmcache4j.cuda;

import org.junit.jupiter.api.Assumptions;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Builds a small shared library with the system C compiler for a test: the stub CUDA driver, or
 * the kernels' index arithmetic compiled as host C. Where no compiler exists the test is skipped
 * with a message (./test.sh requires cc, so it always runs there).
 */
final class NativeBuild {
    private NativeBuild() {
    }

    /** Compiles {@code sources} with {@code flags} into {@code dir/name}. */
    static Path sharedLibrary(Path dir, String name, List<Path> sources, String... flags)
            throws IOException, InterruptedException {
        String cc = System.getenv().getOrDefault("CC", "cc");
        List<String> cmd = new ArrayList<>(List.of(cc, "-shared", "-fPIC", "-O2", "-std=c11", "-Wall", "-Werror"));
        cmd.addAll(List.of(flags));
        Path out = dir.resolve(name);
        cmd.addAll(List.of("-o", out.toString()));
        sources.forEach(s -> cmd.add(s.toString()));
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            Assumptions.abort("no C compiler (" + cc + "): " + e.getMessage());
            throw e;
        }
        String log = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("compiling " + name + " failed: " + String.join(" ", cmd) + "\n" + log);
        }
        return out;
    }

    /** Writes {@code source} to {@code dir/file} and compiles it into {@code dir/name}. */
    static Path sharedLibrary(Path dir, String name, String file, String source, String... flags)
            throws IOException, InterruptedException {
        Path src = Files.writeString(dir.resolve(file), source);
        return sharedLibrary(dir, name, List.of(src), flags);
    }
}
