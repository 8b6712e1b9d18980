package org.lmcache4j.keys;

import org.junit.jupiter.api.Test;
import org.lmcache4j.KeyScope;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;

import java.util.Arrays;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ChunkHasherTest {
    private static final KvLayout SMALL = new KvLayout(2, 1, 4, KvDtype.FLOAT16, 16, 8, KvFormat.FLASH_ATTN);
    private static final String MODEL = "mistralai/Mistral-7B-Instruct-v0.2";
    private static final int[] ONE_TO_TEN = IntStream.rangeClosed(1, 10).toArray();

    /** Vectors computed independently with Python's hashlib, as docs/keys.md shows. */
    @Test
    void keys_matchPythonReference() {
        ChunkHasher h = new ChunkHasher(MODEL, 1, 0, 4, SMALL);
        assertArrayEquals(new String[]{"93b829dbaada026f6039a96ee83b53dc", "868b022279aa365e4279e2a8697e8f8e",
                        "d038f3a0c7673a6975ccbae765c930a0"},
                Arrays.stream(h.keys(KeyScope.NONE, ONE_TO_TEN)).map(ChunkKey::hex).toArray());
        assertArrayEquals(new String[]{"bd056ace4a270965db0036b128d3e8c3", "e90e8357fab5a7c9d875fd7570b10d8b",
                        "56c1bb437f211a3abef83ae5bfa52d5e"},
                Arrays.stream(h.keys(KeyScope.ofSalt("tenant-a"), ONE_TO_TEN)).map(ChunkKey::hex).toArray());
    }

    @Test
    void keys_sharedPrefix_sameLeadingKeys() {
        ChunkHasher h = new ChunkHasher(MODEL, 1, 0, 4, SMALL);
        ChunkKey[] a = h.keys(KeyScope.NONE, new int[]{1, 2, 3, 4, 5, 6, 7, 8, 9});
        ChunkKey[] b = h.keys(KeyScope.NONE, new int[]{1, 2, 3, 4, 5, 6, 7, 8, 100, 101, 102, 103});
        assertEquals(a[0], b[0]);
        assertEquals(a[1], b[1]);
        assertNotEquals(a[2], b[2]);
    }

    @Test
    void keys_differentFirstChunk_changesEveryLaterKey() {
        ChunkHasher h = new ChunkHasher(MODEL, 1, 0, 4, SMALL);
        ChunkKey[] a = h.keys(KeyScope.NONE, new int[]{1, 2, 3, 4, 5, 6, 7, 8});
        ChunkKey[] b = h.keys(KeyScope.NONE, new int[]{0, 2, 3, 4, 5, 6, 7, 8});
        assertNotEquals(a[1], b[1]);
    }

    @Test
    void keys_partialChunk_differsFromTheFullChunkItStarts() {
        ChunkHasher h = new ChunkHasher(MODEL, 1, 0, 4, SMALL);
        ChunkKey partial = h.keys(KeyScope.NONE, new int[]{1, 2, 3})[0];
        ChunkKey full = h.keys(KeyScope.NONE, new int[]{1, 2, 3, 4})[0];
        assertNotEquals(partial, full);
        assertEquals(1, h.chunkCount(3));
        assertEquals(3, h.chunkCount(9));
    }

    @Test
    void keys_everyNamespaceField_separatesKeys() {
        ChunkKey base = new ChunkHasher(MODEL, 2, 0, 4, SMALL).keys(KeyScope.NONE, ONE_TO_TEN)[0];
        assertNotEquals(base, new ChunkHasher("other", 2, 0, 4, SMALL).keys(KeyScope.NONE, ONE_TO_TEN)[0]);
        assertNotEquals(base, new ChunkHasher(MODEL, 2, 1, 4, SMALL).keys(KeyScope.NONE, ONE_TO_TEN)[0]);
        assertNotEquals(base, new ChunkHasher(MODEL, 4, 0, 4, SMALL).keys(KeyScope.NONE, ONE_TO_TEN)[0]);
        KvLayout bf16 = new KvLayout(2, 1, 4, KvDtype.BFLOAT16, 16, 8, KvFormat.FLASH_ATTN);
        assertNotEquals(base, new ChunkHasher(MODEL, 2, 0, 4, bf16).keys(KeyScope.NONE, ONE_TO_TEN)[0]);
        assertNotEquals(base, new ChunkHasher(MODEL, 2, 0, 4, SMALL).keys(new KeyScope("", "lora-1"), ONE_TO_TEN)[0]);
        assertNotEquals(new ChunkHasher(MODEL, 2, 0, 4, SMALL).keys(new KeyScope("a", "b"), ONE_TO_TEN)[0],
                new ChunkHasher(MODEL, 2, 0, 4, SMALL).keys(new KeyScope("ab", ""), ONE_TO_TEN)[0]);
    }

    @Test
    void keys_blockSizeAndPagedFormat_doNotChangeKeys() {
        KvLayout other = new KvLayout(2, 1, 4, KvDtype.FLOAT16, 32, 99, KvFormat.BLOCKS_FIRST);
        assertArrayEquals(new ChunkHasher(MODEL, 1, 0, 4, SMALL).keys(KeyScope.NONE, ONE_TO_TEN),
                new ChunkHasher(MODEL, 1, 0, 4, other).keys(KeyScope.NONE, ONE_TO_TEN));
    }

    @Test
    void keys_sameInputInTwoHashers_identical() {
        assertArrayEquals(new ChunkHasher(MODEL, 1, 0, 4, SMALL).keys(KeyScope.NONE, ONE_TO_TEN),
                new ChunkHasher(MODEL, 1, 0, 4, SMALL).keys(KeyScope.NONE, ONE_TO_TEN));
    }

    @Test
    void constructor_badRankOrChunkSize_throws() {
        assertThrows(IllegalArgumentException.class, () -> new ChunkHasher(MODEL, 2, 2, 4, SMALL));
        assertThrows(IllegalArgumentException.class, () -> new ChunkHasher(MODEL, 1, 0, 0, SMALL));
        ChunkHasher h = new ChunkHasher(MODEL, 1, 0, 4, SMALL);
        assertThrows(IllegalArgumentException.class, () -> h.keys(KeyScope.NONE, ONE_TO_TEN, 4));
    }
}
