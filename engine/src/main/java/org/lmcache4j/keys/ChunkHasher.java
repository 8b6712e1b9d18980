package org.lmcache4j.keys;

import org.lmcache4j.KeyScope;
import org.lmcache4j.KvLayout;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.List;

/**
 * Chained chunk keys, computed the same way in every process and on every machine (no seed),
 * so that any Python or C program can reproduce them with a SHA-256 and nothing else.
 *
 * <h2>Algorithm {@code lmcache4j-key-v1}</h2>
 * <pre>
 * field(s)  = uint32_le(len(utf8(s))) || utf8(s)
 * root      = SHA-256( field("lmcache4j-key-v1") || field(model) || field(str(world_size))
 *                      || field(str(worker_id)) || field(str(chunk_size)) || field(shape)
 *                      || field(cache_salt) || field(adapter) )[0:16]
 * key(0)    = SHA-256( root      || int32_le(tokens[0 : c]) )[0:16]
 * key(i)    = SHA-256( key(i-1)  || int32_le(tokens[i*c : min((i+1)*c, n)]) )[0:16]
 * </pre>
 * where {@code c} is {@code chunk_size}, {@code n} the number of tokens, {@code shape}
 * {@link KvLayout#shapeFingerprint()}, and a trailing partial chunk hashes only its own tokens
 * (so it never equals the full chunk that later extends it). The root binds every key to the
 * model, the tensor-parallel position, the KV shape and the request's {@link KeyScope}: chunks of
 * another model, rank, shape or tenant never match. SHA-256 rather than a fast non-cryptographic
 * hash because tenants must not be able to craft colliding prefixes; with the CPU's SHA
 * instructions 128k tokens hash in well under a millisecond.
 *
 * <p>Thread-safe: digests are per thread.
 */
public final class ChunkHasher {
    public static final String ALGORITHM = "lmcache4j-key-v1";

    private static final VarHandle INT_LE = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final ThreadLocal<MessageDigest> SHA256 = ThreadLocal.withInitial(ChunkHasher::newDigest);

    private final int chunkSize;
    private final List<String> namespace;
    private final byte[] unscopedRoot;
    private final ThreadLocal<byte[]> tokenBytes;

    public ChunkHasher(String model, int worldSize, int workerId, int chunkSize, KvLayout layout) {
        if (chunkSize <= 0) {
            throw new IllegalArgumentException("chunk_size must be positive, got " + chunkSize);
        }
        if (worldSize <= 0 || workerId < 0 || workerId >= worldSize) {
            throw new IllegalArgumentException("worker_id " + workerId + " is not a rank of world_size " + worldSize);
        }
        this.chunkSize = chunkSize;
        this.namespace = List.of(ALGORITHM, model, Integer.toString(worldSize), Integer.toString(workerId),
                Integer.toString(chunkSize), layout.shapeFingerprint());
        this.unscopedRoot = rootBytes(KeyScope.NONE);
        this.tokenBytes = ThreadLocal.withInitial(() -> new byte[chunkSize * Integer.BYTES]);
    }

    public int chunkSize() {
        return chunkSize;
    }

    /** The key chunk 0 of a prompt in {@code scope} chains from: its parent in records. */
    public ChunkKey root(KeyScope scope) {
        byte[] r = scope.equals(KeyScope.NONE) ? unscopedRoot : rootBytes(scope);
        return new ChunkKey(readLong(r, 0), readLong(r, 8));
    }

    /**
     * 16 bytes that identify the namespace (model, rank, chunk size, KV shape) and nothing else:
     * records carry it, and a record of another namespace is never served.
     */
    public byte[] namespaceFingerprint() {
        return java.util.Arrays.copyOf(unscopedRoot, ChunkKey.BYTES);
    }

    /** Number of chunks, the trailing partial one included, that {@code tokens} tokens make. */
    public int chunkCount(int tokens) {
        return (tokens + chunkSize - 1) / chunkSize;
    }

    /** The key of every chunk of {@code tokens}, the trailing partial chunk included. */
    public ChunkKey[] keys(KeyScope scope, int[] tokens) {
        return keys(scope, tokens, chunkCount(tokens.length));
    }

    /** The keys of the first {@code chunks} chunks of {@code tokens}. */
    public ChunkKey[] keys(KeyScope scope, int[] tokens, int chunks) {
        if (chunks < 0 || chunks > chunkCount(tokens.length)) {
            throw new IllegalArgumentException("cannot key " + chunks + " chunks of " + tokens.length + " tokens");
        }
        MessageDigest sha = SHA256.get();
        byte[] buf = tokenBytes.get();
        byte[] prev = scope.equals(KeyScope.NONE) ? unscopedRoot : rootBytes(scope);
        ChunkKey[] keys = new ChunkKey[chunks];
        for (int c = 0; c < chunks; c++) {
            int from = c * chunkSize;
            int to = Math.min(tokens.length, from + chunkSize);
            for (int t = from; t < to; t++) {
                INT_LE.set(buf, (t - from) * Integer.BYTES, tokens[t]);
            }
            sha.update(prev, 0, ChunkKey.BYTES);
            sha.update(buf, 0, (to - from) * Integer.BYTES);
            prev = sha.digest();
            keys[c] = new ChunkKey(readLong(prev, 0), readLong(prev, 8));
        }
        return keys;
    }

    private byte[] rootBytes(KeyScope scope) {
        MessageDigest sha = SHA256.get();
        for (String field : namespace) {
            field(sha, field);
        }
        field(sha, scope.cacheSalt());
        field(sha, scope.adapter());
        return sha.digest();
    }

    private static void field(MessageDigest sha, String s) {
        byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
        byte[] len = new byte[Integer.BYTES];
        INT_LE.set(len, 0, utf8.length);
        sha.update(len);
        sha.update(utf8);
    }

    private static long readLong(byte[] b, int off) {
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = (v << 8) | (b[off + i] & 0xFFL);
        }
        return v;
    }

    private static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }
}
