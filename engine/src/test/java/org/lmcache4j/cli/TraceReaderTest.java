package org.lmcache4j.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Both trace formats, how blocks become chunks, and every kind of bad line. */
class TraceReaderTest {
    @TempDir
    Path dir;

    private Path file(String text) throws Exception {
        Path f = dir.resolve("t.jsonl");
        Files.writeString(f, text);
        return f;
    }

    private String refused(String text) throws Exception {
        Path f = file(text);
        return assertThrows(IllegalArgumentException.class, () -> TraceReader.read(f, 512)).getMessage();
    }

    @Test
    void mooncake_blocksAndTheirTokens() throws Exception {
        PromptTrace t = TraceReader.read(file("""
                {"timestamp": 5, "input_length": 1100, "output_length": 9, "hash_ids": [7, 8, 9]}

                {"timestamp": 6, "input_length": 1024, "output_length": 0, "hash_ids": [7, 8]}
                """), 512);
        assertEquals(2, t.prompts().size());
        PromptTrace.Prompt a = t.prompts().get(0);
        assertEquals(5, a.timestampMs());
        assertArrayEquals(new int[]{0, 1, 2}, a.blocks());
        assertArrayEquals(new int[]{512, 512, 76}, a.blockTokens());
        assertArrayEquals(new int[]{0, 1}, t.prompts().get(1).blocks(), "the same ids are the same blocks");
        assertEquals(2124, t.promptTokens());
        assertEquals(1100, t.longestPrompt());
    }

    @Test
    void mooncake_fewerIdsThanBlocks_leavesTheRestUnshared() throws Exception {
        PromptTrace t = TraceReader.read(file("""
                {"timestamp": 0, "input_length": 1500, "hash_ids": [1]}
                {"timestamp": 0, "input_length": 1500, "hash_ids": [1]}
                """), 512);
        assertArrayEquals(new int[]{512, 988}, t.prompts().get(0).blockTokens());
        assertNotEquals(t.prompts().get(0).blocks()[1], t.prompts().get(1).blocks()[1]);
    }

    @Test
    void chunks_aBlockIsTwoChunks_andAPartialBlockSharesItsFullChunk() throws Exception {
        PromptTrace t = TraceReader.read(file("""
                {"timestamp": 0, "input_length": 1024, "hash_ids": [1, 2]}
                {"timestamp": 0, "input_length": 812, "hash_ids": [1, 2]}
                {"timestamp": 0, "input_length": 812, "hash_ids": [1, 2]}
                """), 512);
        ChunkedTrace c = ChunkedTrace.of(t, 256, true);
        assertArrayEquals(new int[]{0, 1, 2, 3}, c.keys[0]);
        // 812 tokens: 512 of block 1, then 300 of block 2: its first chunk is the full block's, then 44 tokens
        assertArrayEquals(new int[]{0, 1, 2, 4}, c.keys[1]);
        assertArrayEquals(new int[]{256, 256, 256, 44}, c.tokens[1]);
        assertArrayEquals(c.keys[1], c.keys[2]);
        assertEquals(5, c.chunks());
        ChunkedTrace whole = ChunkedTrace.of(t, 256, false);
        assertArrayEquals(new int[]{0, 1, 2}, whole.keys[1], "save_unfull_chunk false: no partial chunk");
        assertEquals(812, whole.promptTokens[1]);
        ChunkedTrace big = ChunkedTrace.of(t, 768, true);
        assertArrayEquals(new int[]{0, 1}, big.keys[0], "a chunk across two blocks is named by the second");
        assertArrayEquals(new int[]{0, 2}, big.keys[1]);
    }

    @Test
    void dumpTrace_isReadBack_withItsChunksAsBlocks() throws Exception {
        String a = "0".repeat(31) + "a";
        String b = "0".repeat(31) + "b";
        PromptTrace t = TraceReader.read(file(TraceFile.HEADER
                + "r0 0 " + a + " 256 store\n" + "r0 1 " + b + " 10 store\n"
                + "r1 0 " + a + " 256 hit\n" + "r1 0 " + a + " 256 retrieve\n" + "r1 1 " + b + " 10 touch\n"), 512);
        assertEquals(2, t.prompts().size());
        assertArrayEquals(new int[]{0, 1}, t.prompts().get(1).blocks());
        assertEquals(266, t.prompts().get(1).tokens());
    }

    @Test
    void badLines_areRefusedNamingTheLine() throws Exception {
        String ok = "{\"timestamp\": 0, \"input_length\": 600, \"hash_ids\": [1, 2]}\n";
        assertTrue(refused("").contains("has no requests"));
        assertTrue(refused("\n\n").contains("has no requests"));
        assertTrue(refused(ok + "hello\n").contains("line 2: not JSON: unexpected 'h' at column 1"),
                refused(ok + "hello\n"));
        assertTrue(refused(ok + "{\"input_length\": 5,\n").contains("line 2: not JSON"));
        assertTrue(refused("[1, 2]\n").contains("line 1: expected a JSON object"));
        assertTrue(refused("{\"timestamp\": 0, \"input_length\": -1, \"hash_ids\": []}")
                .contains("line 1: input_length must be at least 1, got -1"));
        assertTrue(refused("{\"timestamp\": 0, \"input_length\": 5, \"output_length\": -3, \"hash_ids\": [1]}")
                .contains("line 1: output_length must be at least 0, got -3"));
        assertTrue(refused("{\"timestamp\": -2, \"input_length\": 5, \"hash_ids\": [1]}")
                .contains("timestamp must be at least 0"));
        String tooMany = refused(ok + ok + "{\"timestamp\": 0, \"input_length\": 600, \"hash_ids\": [1, 2, 3]}");
        assertTrue(tooMany.contains("line 3: 3 hash_ids, but input_length 600 makes 2 blocks of 512 tokens"), tooMany);
        assertTrue(refused("{\"timestamp\": 0, \"input_length\": 600}").contains("hash_ids is missing"));
        String prefix = refused(ok + "{\"timestamp\": 0, \"input_length\": 600, \"hash_ids\": [3, 2]}");
        assertTrue(prefix.contains("line 2: hash_ids[1] 2 follows id 3 here, but id 1 on line 1"), prefix);
        assertTrue(refused(ok + "{\"timestamp\": 0, \"input_length\": 600, \"hash_ids\": [2]}")
                .contains("hash_ids[0] 2 follows nothing here, but id 1 on line 1"));
        assertTrue(refused("{\"timestamp\": 0, \"input_length\": 900, \"hash_ids\": [4, 4]}")
                .contains("hash_ids[1] 4 follows id 4 here, but nothing on line 1"));
        assertTrue(refused("{\"timestamp\": 0, \"input_length\": 600, \"hash_ids\": [\"x\"]}")
                .contains("hash_ids[0] is x, not a whole number"));
        assertTrue(refused("{\"timestamp\": 0, \"input_length\": 6.5, \"hash_ids\": []}")
                .contains("input_length must be a whole number"));
        assertTrue(refused(TraceFile.HEADER + "r0 0 zz 256 store\n").contains("line 3: key 'zz' is not a hex number"));
        assertTrue(refused(TraceFile.HEADER + "r0 0 ab\n").contains("line 3: expected 5 fields"));
        assertTrue(refused(TraceFile.HEADER + "r0 1 ab 256 store\n").contains("names chunk 1 but not all the chunks"));
        Path missing = dir.resolve("nope.jsonl");
        assertTrue(assertThrows(IllegalArgumentException.class, () -> TraceReader.read(missing, 512)).getMessage()
                .contains("cannot read the trace"));
    }

    @Test
    void aLineLongerThanAnyRequest_isRefusedWithoutReadingItWhole() throws Exception {
        Path f = dir.resolve("long.jsonl");
        try (var out = Files.newOutputStream(f)) {
            out.write("{\"timestamp\": 0, \"input_length\": 600, \"hash_ids\": [1]}\n{\"x\": \"".getBytes());
            byte[] filler = new byte[1 << 20];
            java.util.Arrays.fill(filler, (byte) 'a');
            for (int i = 0; i < TraceLines.MAX_LINE_BYTES / filler.length + 1; i++) {
                out.write(filler); // no newline: the reader must stop at its limit, not at the end of the file
            }
        }
        String m = assertThrows(IllegalArgumentException.class, () -> TraceReader.read(f, 512)).getMessage();
        assertTrue(m.contains("line 2: longer than"), m);
    }

    @Test
    void bytesThatAreNotUtf8_areRefusedNamingTheLine() throws Exception {
        Path f = dir.resolve("bin.jsonl");
        byte[] ok = "{\"timestamp\": 0, \"input_length\": 600, \"hash_ids\": [1]}\n".getBytes();
        byte[] bad = {'{', (byte) 0xff, (byte) 0xfe, '}', '\n'};
        Files.write(f, java.nio.ByteBuffer.allocate(ok.length + bad.length).put(ok).put(bad).array());
        String m = assertThrows(IllegalArgumentException.class, () -> TraceReader.read(f, 512)).getMessage();
        assertTrue(m.contains("line 2: not UTF-8 text"), m);
    }

    @Test
    void aByteOrderMark_andCrlfLineEnds_areRead() throws Exception {
        PromptTrace t = TraceReader.read(file("\uFEFF{\"timestamp\": 0, \"input_length\": 600, \"hash_ids\": [1]}\r\n"
                + "{\"timestamp\": 1, \"input_length\": 600, \"hash_ids\": [1]}\r\n"), 512);
        assertEquals(2, t.prompts().size());
    }

    @Test
    void aDirectory_orAMissingFile_isSaidPlainly() throws Exception {
        String m = assertThrows(IllegalArgumentException.class, () -> TraceReader.read(dir, 512)).getMessage();
        assertTrue(m.contains("is a directory"), m);
        m = assertThrows(IllegalArgumentException.class, () -> TraceReader.read(dir.resolve("nope"), 512)).getMessage();
        assertTrue(m.contains("no such file"), m);
    }

    @Test
    void aPromptOfIntMaxTokens_isChunkedWithoutOverflow() throws Exception {
        PromptTrace t = TraceReader.read(file("{\"timestamp\": 0, \"input_length\": 2147483647, \"hash_ids\": [1]}\n"), 512);
        ChunkedTrace c = ChunkedTrace.of(t, 1 << 20, true);
        assertEquals(2048, c.keys[0].length);
        assertEquals(2147483647L, c.promptTokens());
    }

    @Test
    void deeplyNestedJunk_isRefusedAsALine() throws Exception {
        String deep = "[".repeat(100_000) + "]".repeat(100_000);
        String m = refused("{\"timestamp\": 0, \"input_length\": 600, \"hash_ids\": [1], \"x\": " + deep + "}\n");
        assertTrue(m.contains("line 1: not JSON: nested deeper than"), m);
    }

    @Test
    void aDuplicateKey_orABadEscape_isRefusedAsNotJson() throws Exception {
        String dup = refused("{\"timestamp\": 0, \"input_length\": 600, \"input_length\": 4096, \"hash_ids\": [1]}\n");
        assertTrue(dup.contains("line 1: not JSON: key 'input_length' appears twice"), dup);
        String esc = refused("{\"timestamp\": 0, \"input_length\": 600, \"hash_ids\": [1], \"s\": \"\\u00\"}\n");
        assertTrue(esc.contains("line 1: not JSON: a \\u escape needs four hex digits"), esc);
    }

    @Test
    void dumpTrace_tokensBeyondAPrompt_orAnUnknownKind_areRefused() throws Exception {
        String over = refused(TraceFile.HEADER + "r 0 aa 2147483647 store\nr 1 bb 2147483647 store\n");
        assertTrue(over.contains("request r holds more than"), over);
        String kind = refused(TraceFile.HEADER + "r 0 aa 256 bogus\n");
        assertTrue(kind.contains("line 3: kind must be one of hit, retrieve, store, touch, got 'bogus'"), kind);
    }
}
