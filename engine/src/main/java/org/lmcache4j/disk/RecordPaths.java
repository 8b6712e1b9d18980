package org.lmcache4j.disk;

import org.lmcache4j.keys.ChunkKey;

import java.nio.file.Path;

/**
 * Where a chunk's record lives: {@code DIR/ab/abcdef….lmc}, fanned out over 256 subdirectories by
 * the key's first byte so that no directory grows past a few thousand entries.
 */
final class RecordPaths {
    static final String SUFFIX = ".lmc";

    private RecordPaths() {
    }

    static Path of(Path dir, ChunkKey key) {
        String hex = key.hex();
        return dir.resolve(hex.substring(0, 2)).resolve(hex + SUFFIX);
    }

    static boolean isRecord(Path p) {
        return p.getFileName().toString().endsWith(SUFFIX);
    }

    static boolean isTemporary(Path p) {
        return p.getFileName().toString().contains(RecordIo.TMP_MARK);
    }

    /**
     * Whether {@code p} is exactly where {@code key}'s record belongs in {@code dir}: a record under
     * another name or in another folder was moved or is damaged: it is never indexed (reads and
     * deletions would look for it elsewhere) but deleted at start, so that it cannot escape the cap.
     */
    static boolean placedFor(Path dir, Path p, ChunkKey key) {
        return p.toAbsolutePath().normalize().equals(of(dir, key).toAbsolutePath().normalize());
    }
}
