package org.lmcache4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;

class LogTextTest {
    @Test
    void plainNames_areReturnedAsTheyAre() {
        String name = "meta-llama/Llama-3.1-8B \"instruct\" \u00e9\u00e8 \ud83d\ude00";
        assertSame(name, LogText.oneLine(name));
    }

    @Test
    void controlCharacters_becomeEscapes_soOneNameStaysOneLogLine() {
        assertEquals("m\\nINFO forged\\r\\tx\\u001b[31m\\u2028", LogText.oneLine("m\nINFO forged\r\tx\u001b[31m\u2028"));
        assertEquals("null", LogText.oneLine(null));
    }
}
