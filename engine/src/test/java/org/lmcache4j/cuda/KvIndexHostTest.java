package org.lmcache4j.cuda;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.lmcache4j.KvDtype;
import org.lmcache4j.KvFormat;
import org.lmcache4j.KvLayout;
import org.lmcache4j.TestCaches;
import org.lmcache4j.transfer.HostKvTransfer;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The CUDA kernels' index arithmetic (native/cuda/kv_index.h), compiled as host C with the
 * kernels' loops (kv_host.c), against {@link HostKvTransfer}: byte-identical pages from gathers
 * and byte-identical caches after scatters, on random slot mappings with holes, partial chunks,
 * every format, aligned rows (16-byte path) and odd rows or pages (byte path).
 */
class KvIndexHostTest {
    private static MethodHandle copy;

    @BeforeAll
    static void build(@TempDir Path dir) throws Exception {
        Path cuda = Path.of("..", "native", "cuda").toAbsolutePath().normalize();
        Path lib = NativeBuild.sharedLibrary(dir, "libkvhost.so", List.of(cuda.resolve("kv_host.c")),
                "-I" + cuda, "-fno-strict-aliasing", "-Wextra");
        SymbolLookup lookup = SymbolLookup.libraryLookup(lib, Arena.global());
        copy = Linker.nativeLinker().downcallHandle(lookup.findOrThrow("kv_host_copy"),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_INT));
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (KvFormat f : KvFormat.values()) {
            int heads = f == KvFormat.MLA ? 1 : 2;
            out.add(Arguments.of(new KvLayout(3, heads, 8, KvDtype.BFLOAT16, 4, 32, f), 0));   // 16n-byte rows
            out.add(Arguments.of(new KvLayout(2, heads, 8, KvDtype.BFLOAT16, 16, 8, f), 2));   // page off by 2
            out.add(Arguments.of(new KvLayout(2, 1, 3, KvDtype.BFLOAT16, 5, 13, f), 0));      // 6-byte rows
        }
        return out.stream();
    }

    /** kv_shape of kv_index.h, field by field (int32 ×4, int64 ×2, int32 ×2). */
    private static MemorySegment shape(Arena arena, KvLayout l, int tokens) {
        MemorySegment s = arena.allocate(40, 8);
        s.set(JAVA_INT, 0, l.format().ordinal());
        s.set(JAVA_INT, 4, l.format().planes());
        s.set(JAVA_INT, 8, l.numLayers());
        s.set(JAVA_INT, 12, l.blockSize());
        s.set(JAVA_LONG, 16, l.numSlots());
        s.set(JAVA_LONG, 24, l.rowBytes());
        s.set(JAVA_INT, 32, tokens);
        return s;
    }

    private static void kernelCopy(TestCaches caches, long[] slots, int from, int to, MemorySegment page, boolean toPage) {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment layers = arena.allocateFrom(JAVA_LONG, caches.addresses());
            long[] chunkSlots = java.util.Arrays.copyOfRange(slots, from, to);
            MemorySegment s = arena.allocateFrom(JAVA_LONG, chunkSlots.length == 0 ? new long[1] : chunkSlots);
            int rc = (int) copy.invokeExact(shape(arena, caches.layout, to - from), layers, s, page, toPage ? 1 : 0);
            assertEquals(0, rc);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    /** Distinct slots anywhere in the cache, runs of a block and lone tokens alike, about 1 in 6 a hole. */
    private static long[] randomSlots(KvLayout l, int n, Random rnd) {
        long[] slots = rnd.nextBoolean() ? TestCaches.randomSlots(l, n, rnd) : shuffledSlots(l, n, rnd);
        for (int t = 0; t < n; t++) {
            if (rnd.nextInt(6) == 0) {
                slots[t] = -1;
            }
        }
        return slots;
    }

    private static long[] shuffledSlots(KvLayout l, int n, Random rnd) {
        List<Long> all = new ArrayList<>();
        for (long s = 0; s < l.numSlots(); s++) {
            all.add(s);
        }
        Collections.shuffle(all, rnd);
        return all.subList(0, n).stream().mapToLong(Long::longValue).toArray();
    }

    @ParameterizedTest
    @MethodSource("cases")
    void gather_matchesHostTransfer(KvLayout l, int pageShift) {
        Random rnd = new Random(l.hashCode());
        HostKvTransfer host = new HostKvTransfer();
        try (TestCaches caches = new TestCaches(l); Arena arena = Arena.ofConfined()) {
            caches.fillRandom(rnd.nextLong());
            for (int round = 0; round < 20; round++) {
                int n = 1 + rnd.nextInt(Math.min(l.numSlots(), 24));
                int from = rnd.nextInt(3);
                long[] slots = randomSlots(l, from + n, rnd);
                long bytes = l.chunkBytes(n);
                MemorySegment expected = arena.allocate(bytes + 16, 64).asSlice(pageShift, bytes).fill((byte) 0x5A);
                MemorySegment actual = arena.allocate(bytes + 16, 64).asSlice(pageShift, bytes).fill((byte) 0x5A);
                host.gather(caches.view, slots, from, from + n, expected);
                kernelCopy(caches, slots, from, from + n, actual, true);
                assertArrayEquals(expected.toArray(ValueLayout.JAVA_BYTE), actual.toArray(ValueLayout.JAVA_BYTE),
                        "round " + round);
            }
        }
    }

    @ParameterizedTest
    @MethodSource("cases")
    void scatter_matchesHostTransfer(KvLayout l, int pageShift) {
        Random rnd = new Random(~l.hashCode());
        HostKvTransfer host = new HostKvTransfer();
        try (TestCaches expected = new TestCaches(l); TestCaches actual = new TestCaches(l);
             Arena arena = Arena.ofConfined()) {
            long seed = rnd.nextLong();
            expected.fillRandom(seed);
            actual.fillRandom(seed);
            for (int round = 0; round < 20; round++) {
                int n = 1 + rnd.nextInt(Math.min(l.numSlots(), 24));
                long[] slots = randomSlots(l, n, rnd);
                long bytes = l.chunkBytes(n);
                MemorySegment page = arena.allocate(bytes + 16, 64).asSlice(pageShift, bytes);
                for (long i = 0; i < bytes; i++) {
                    page.set(ValueLayout.JAVA_BYTE, i, (byte) rnd.nextInt());
                }
                host.scatter(page, expected.view, slots, 0, n);
                kernelCopy(actual, slots, 0, n, page, false);
                for (int layer = 0; layer < l.numLayers(); layer++) {
                    assertArrayEquals(expected.layers.get(layer).toArray(ValueLayout.JAVA_BYTE),
                            actual.layers.get(layer).toArray(ValueLayout.JAVA_BYTE), "round " + round + " layer " + layer);
                }
            }
        }
    }
}
