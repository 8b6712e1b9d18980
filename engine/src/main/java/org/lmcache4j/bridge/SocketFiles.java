package org.lmcache4j.bridge;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

/**
 * Where a Unix socket of this user's engine may live: in a directory that the user owns and nobody
 * else may enter (mode 0700, checked, never loosened or tightened behind the user's back), so that
 * no other user can connect, not even in the moment between bind and chmod. The lookup socket
 * ({@link LookupServer}) and {@code lmcache4j server} both bind through here.
 */
public final class SocketFiles {
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private SocketFiles() {
    }

    /**
     * Checks that {@code path}'s directory is private to this user and removes a stale socket left
     * there by a process that died; any other file at the path is refused. {@code what} names the
     * socket in messages ("serve lookups").
     */
    public static void prepare(Path path, String what) throws IOException {
        requirePrivateDirectory(path.getParent());
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            if (!isSocket(path)) {
                throw new IllegalArgumentException("cannot " + what + " at " + path + ": a file that is not a socket is there");
            }
            Files.delete(path); // stale: left by a process that died
        }
    }

    /** Makes a socket just bound at {@code path} readable and writable by its owner only. */
    public static void restrict(Path path) throws IOException {
        Files.setPosixFilePermissions(path, OWNER_ONLY);
    }

    private static void requirePrivateDirectory(Path dir) throws IOException {
        if (dir == null || !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            throw new IllegalArgumentException("the socket's directory " + dir + " does not exist (create it with mode 0700)");
        }
        int owner = (Integer) Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        int self = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        if (owner != self) {
            throw new IllegalArgumentException("the socket's directory " + dir + " belongs to uid " + owner
                    + ", not to this process's uid " + self);
        }
        int mode = (Integer) Files.getAttribute(dir, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        if ((mode & 0077) != 0) {
            throw new IllegalArgumentException(String.format("the socket's directory %s must be private to its owner"
                    + " (mode 0700), it is %04o", dir, mode & 07777));
        }
    }

    private static boolean isSocket(Path p) throws IOException {
        int mode = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        return (mode & 0170000) == 0140000;
    }
}
