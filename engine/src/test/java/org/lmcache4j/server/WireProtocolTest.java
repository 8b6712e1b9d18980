package org.lmcache4j.server;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link WireProtocol} says what {@code native/include/lmcache4j_wire.h} says, number for number. */
class WireProtocolTest {
    private static final Pattern DEFINE = Pattern.compile(
            "^#define LMCACHE4J_WIRE_(\\w+) \\(?(-?(?:0x[0-9A-Fa-f]+|\\d+))u?(?: << (\\d+))?u?\\)?", Pattern.MULTILINE);

    @Test
    void everyConstantOfTheHeader_isJavasToo_andTheOtherWayRound() throws IOException, IllegalAccessException {
        Path header = Path.of(System.getProperty("user.dir")).getParent().resolve("native/include/lmcache4j_wire.h");
        Map<String, Long> c = new HashMap<>();
        Matcher m = DEFINE.matcher(Files.readString(header));
        while (m.find()) {
            String v = m.group(2);
            long value = v.startsWith("0x") ? Long.parseLong(v.substring(2), 16) : Long.parseLong(v);
            if (m.group(3) != null) {
                value <<= Integer.parseInt(m.group(3));
            }
            c.put(m.group(1), value);
        }
        assertTrue(c.size() >= 30, "the header's constants were read: " + c.keySet());
        Set<String> java = new HashSet<>();
        for (Field f : WireProtocol.class.getDeclaredFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == int.class) {
                java.add(f.getName());
                assertTrue(c.containsKey(f.getName()), "LMCACHE4J_WIRE_" + f.getName() + " is missing from the header");
                // C's unsigned 0xFFFFFFFF is Java's int -1: compare the 32 bits
                assertEquals((int) (long) c.get(f.getName()), f.getInt(null), f.getName());
            }
        }
        assertEquals(c.keySet(), java, "the header and WireProtocol name the same constants");
    }
}
