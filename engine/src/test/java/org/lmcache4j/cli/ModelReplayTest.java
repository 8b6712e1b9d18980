package org.lmcache4j.cli;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code replay --model reference} without the bench jar on the class path (as in the engine's own tests). */
class ModelReplayTest {
    @Test
    void referenceModel_withoutTheBenchJar_exitsTwoAndSaysWhereItIs() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Main.run(new String[]{"replay", "--model", "reference"}, new PrintStream(new ByteArrayOutputStream()),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        assertEquals(2, status);
        String message = err.toString(StandardCharsets.UTF_8);
        assertTrue(message.contains("no replay model") && message.contains("lmcache4j-bench"), message);
    }
}
