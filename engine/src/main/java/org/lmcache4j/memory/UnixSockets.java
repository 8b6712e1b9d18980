package org.lmcache4j.memory;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Unix stream sockets through libc, for what {@code java.nio}'s channels cannot do: pass file
 * descriptors ({@code SCM_RIGHTS}, the shared pool's slabs) and read the peer's numeric uid
 * ({@code SO_PEERCRED}). Descriptors are plain ints; every call that fails says which call and its
 * errno. A peer that closed reads as {@link EOFException}; writes never raise SIGPIPE
 * ({@code MSG_NOSIGNAL}). Linux x86-64 and aarch64 (the structs below are their LP64 layouts).
 *
 * <pre>
 * struct msghdr  0 name · 8 namelen · 16 iov · 24 iovlen · 32 control · 40 controllen · 48 flags   (56)
 * struct cmsghdr 0 len (size_t) · 8 level · 12 type · 16 data: one int fd  (CMSG_SPACE(4) = 24)
 * struct ucred   0 pid · 4 uid · 8 gid
 * </pre>
 */
public final class UnixSockets {
    /** The peer of a connection, as the kernel saw it connect. */
    public record Peer(int pid, int uid, int gid) {
    }

    private static final int AF_UNIX = 1;
    private static final int SOCK_STREAM_CLOEXEC = 1 | 0x80000;
    private static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    private static final int SO_PEERCRED = 17;
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;
    private static final int SHUT_RDWR = 2;
    private static final int EINTR = 4;
    private static final int EAGAIN = 11;
    private static final int MSG_DONTWAIT = 0x40;
    /**
     * How long a read of a message's start polls before it sleeps in the kernel: the next request
     * of a burst usually comes sooner, and a thread asleep in recvmsg is woken through the
     * scheduler, which on an idle machine costs about as much again as a lookup.
     */
    private static final long SPIN_NANOS = 50_000;
    private static final int SUN_PATH_BYTES = 108;
    private static final int MSGHDR_BYTES = 56;
    private static final int CMSG_SPACE_ONE_FD = 24;
    private static final int CMSG_LEN_ONE_FD = 20;

    private static final StructLayout CALL_STATE = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CALL_STATE.varHandle(MemoryLayout.PathElement.groupElement("errno"));

    private final MethodHandle socket;
    private final MethodHandle bind;
    private final MethodHandle listen;
    private final MethodHandle accept4;
    private final MethodHandle connect;
    private final MethodHandle sendmsg;
    private final MethodHandle recvmsg;
    private final MethodHandle getsockopt;
    private final MethodHandle shutdown;
    private final MethodHandle close;
    private final MethodHandle geteuid;

    private UnixSockets(Linker linker, SymbolLookup libc) {
        Linker.Option errno = Linker.Option.captureCallState("errno");
        FunctionDescriptor fdAddrLen = FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT);
        socket = linker.downcallHandle(libc.find("socket").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), errno);
        bind = linker.downcallHandle(libc.find("bind").orElseThrow(), fdAddrLen, errno);
        connect = linker.downcallHandle(libc.find("connect").orElseThrow(), fdAddrLen, errno);
        listen = linker.downcallHandle(libc.find("listen").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), errno);
        accept4 = linker.downcallHandle(libc.find("accept4").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT), errno);
        FunctionDescriptor msg = FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT);
        sendmsg = linker.downcallHandle(libc.find("sendmsg").orElseThrow(), msg, errno);
        recvmsg = linker.downcallHandle(libc.find("recvmsg").orElseThrow(), msg, errno);
        getsockopt = linker.downcallHandle(libc.find("getsockopt").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), errno);
        shutdown = linker.downcallHandle(libc.find("shutdown").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
        close = linker.downcallHandle(libc.find("close").orElseThrow(), FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        geteuid = linker.downcallHandle(libc.find("geteuid").orElseThrow(), FunctionDescriptor.of(JAVA_INT));
    }

    private static final class Holder {
        static final Optional<UnixSockets> INSTANCE = bind();

        private static Optional<UnixSockets> bind() {
            if (!System.getProperty("os.name", "").toLowerCase().contains("linux")) {
                return Optional.empty();
            }
            try {
                Linker linker = Linker.nativeLinker();
                return Optional.of(new UnixSockets(linker, linker.defaultLookup()));
            } catch (RuntimeException | LinkageError e) {
                return Optional.empty();
            }
        }
    }

    /** The bound calls, or an error saying this platform has none (only Linux has). */
    public static UnixSockets require() {
        return Holder.INSTANCE.orElseThrow(() -> new UnsupportedOperationException(
                "Unix sockets with descriptor passing need Linux's libc, and this is " + System.getProperty("os.name")));
    }

    /** A listening socket bound at {@code path} (which must not exist); returns its descriptor. */
    public int listen(Path path, int backlog) throws IOException {
        return addressed(path, (state, fd, addr) -> {
            if ((int) invoke(() -> (int) bind.invokeExact(state, fd, addr, (int) addr.byteSize())) != 0) {
                throw failure("bind " + path, state);
            }
            if ((int) invoke(() -> (int) listen.invokeExact(state, fd, backlog)) != 0) {
                throw failure("listen on " + path, state);
            }
        });
    }

    /** A socket connected to the listener at {@code path}; returns its descriptor. */
    public int connect(Path path) throws IOException {
        return addressed(path, (state, fd, addr) -> {
            if ((int) invoke(() -> (int) connect.invokeExact(state, fd, addr, (int) addr.byteSize())) != 0) {
                throw failure("connect to " + path, state);
            }
        });
    }

    /** What {@link #addressed} does with a new socket and {@code path}'s address. */
    private interface AddressStep {
        void run(MemorySegment state, int fd, MemorySegment addr) throws IOException;
    }

    /** A new socket that {@code step} binds or connects to {@code path}; closed again if it fails. */
    private int addressed(Path path, AddressStep step) throws IOException {
        int fd = newSocket();
        try (Arena arena = Arena.ofConfined()) {
            step.run(arena.allocate(CALL_STATE), fd, address(arena, path));
            return fd;
        } catch (IOException | RuntimeException e) {
            close(fd);
            throw e;
        }
    }

    /** Waits for the next connection; throws once the listener is shut down or closed. */
    public int accept(int listener) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            while (true) {
                int fd = (int) invoke(() -> (int) accept4.invokeExact(state, listener, MemorySegment.NULL,
                        MemorySegment.NULL, 0x80000));
                if (fd >= 0) {
                    return fd;
                }
                if (errno(state) != EINTR) {
                    throw failure("accept", state);
                }
            }
        }
    }

    /** Who is on the other end of {@code fd} ({@code SO_PEERCRED}). */
    public Peer peer(int fd) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment cred = arena.allocate(12);
            MemorySegment len = arena.allocateFrom(JAVA_INT, 12);
            if ((int) invoke(() -> (int) getsockopt.invokeExact(state, fd, SOL_SOCKET, SO_PEERCRED, cred, len)) != 0) {
                throw failure("getsockopt(SO_PEERCRED)", state);
            }
            return new Peer(cred.get(JAVA_INT, 0), cred.get(JAVA_INT, 4), cred.get(JAVA_INT, 8));
        }
    }

    /** This process's effective uid. */
    public int effectiveUid() {
        return (int) invoke(() -> (int) geteuid.invokeExact());
    }

    /** Writes all of {@code bytes}, with {@code passFd} in {@code SCM_RIGHTS} on the first byte if it is not -1. */
    public void write(int fd, MemorySegment bytes, int passFd) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment msg = arena.allocate(MSGHDR_BYTES, 8);
            MemorySegment iov = arena.allocate(16, 8);
            msg.set(ADDRESS, 16, iov);
            msg.set(JAVA_LONG, 24, 1);
            long done = 0;
            while (done < bytes.byteSize()) {
                iov.set(ADDRESS, 0, bytes.asSlice(done));
                iov.set(JAVA_LONG, 8, bytes.byteSize() - done);
                if (done == 0 && passFd >= 0) {
                    MemorySegment control = arena.allocate(CMSG_SPACE_ONE_FD, 8);
                    control.set(JAVA_LONG, 0, CMSG_LEN_ONE_FD);
                    control.set(JAVA_INT, 8, SOL_SOCKET);
                    control.set(JAVA_INT, 12, SCM_RIGHTS);
                    control.set(JAVA_INT, 16, passFd);
                    msg.set(ADDRESS, 32, control);
                    msg.set(JAVA_LONG, 40, CMSG_SPACE_ONE_FD);
                } else {
                    msg.set(ADDRESS, 32, MemorySegment.NULL);
                    msg.set(JAVA_LONG, 40, 0);
                }
                long n = (long) invoke(() -> (long) sendmsg.invokeExact(state, fd, msg, MSG_NOSIGNAL));
                if (n < 0) {
                    if (errno(state) == EINTR) {
                        continue;
                    }
                    throw failure("sendmsg", state);
                }
                done += n;
            }
        }
    }

    /**
     * Fills {@code into} from {@code fd}. Returns a descriptor that came with these bytes
     * ({@code SCM_RIGHTS}, opened close-on-exec), or -1; the caller owns it. A peer that closed
     * before the first byte, or in the middle, is {@link EOFException}.
     */
    public int read(int fd, MemorySegment into) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            MemorySegment msg = arena.allocate(MSGHDR_BYTES, 8);
            MemorySegment iov = arena.allocate(16, 8);
            MemorySegment control = arena.allocate(CMSG_SPACE_ONE_FD, 8);
            msg.set(ADDRESS, 16, iov);
            msg.set(JAVA_LONG, 24, 1);
            int received = -1;
            long done = 0;
            while (done < into.byteSize()) {
                iov.set(ADDRESS, 0, into.asSlice(done));
                iov.set(JAVA_LONG, 8, into.byteSize() - done);
                control.fill((byte) 0);
                msg.set(ADDRESS, 32, control);
                msg.set(JAVA_LONG, 40, CMSG_SPACE_ONE_FD);
                long n = receiveSoon(state, fd, msg);
                if (n < 0) {
                    if (errno(state) == EINTR) {
                        continue;
                    }
                    throw failure("recvmsg", state);
                }
                if (msg.get(JAVA_LONG, 40) >= CMSG_LEN_ONE_FD && control.get(JAVA_INT, 8) == SOL_SOCKET
                        && control.get(JAVA_INT, 12) == SCM_RIGHTS) {
                    if (received >= 0) {
                        close(received); // a second descriptor within one read: keep the latest
                    }
                    received = control.get(JAVA_INT, 16);
                }
                if (n == 0) {
                    if (received >= 0) {
                        close(received);
                    }
                    throw new EOFException("the peer closed the connection"
                            + (done == 0 ? "" : " after " + done + " of " + into.byteSize() + " bytes"));
                }
                done += n;
            }
            return received;
        }
    }

    /** recvmsg, polled for up to {@link #SPIN_NANOS} (yielding between polls), then waited for. */
    private long receiveSoon(MemorySegment state, int fd, MemorySegment msg) {
        long start = System.nanoTime();
        while (true) {
            long n = (long) invoke(() -> (long) recvmsg.invokeExact(state, fd, msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT));
            if (n >= 0 || errno(state) != EAGAIN) {
                return n;
            }
            if (System.nanoTime() - start > SPIN_NANOS) {
                return (long) invoke(() -> (long) recvmsg.invokeExact(state, fd, msg, MSG_CMSG_CLOEXEC));
            }
            Thread.yield();
        }
    }

    /** Wakes every thread blocked on {@code fd} (an accept, a read); their calls then fail. */
    public void shutdown(int fd) {
        int ignored = (int) invoke(() -> (int) shutdown.invokeExact(fd, SHUT_RDWR));
    }

    public void close(int fd) {
        int ignored = (int) invoke(() -> (int) close.invokeExact(fd));
    }

    private int newSocket() throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment state = arena.allocate(CALL_STATE);
            int fd = (int) invoke(() -> (int) socket.invokeExact(state, AF_UNIX, SOCK_STREAM_CLOEXEC, 0));
            if (fd < 0) {
                throw failure("socket(AF_UNIX)", state);
            }
            return fd;
        }
    }

    private static MemorySegment address(Arena arena, Path path) {
        byte[] name = path.toString().getBytes(StandardCharsets.UTF_8);
        if (name.length >= SUN_PATH_BYTES) {
            throw new IllegalArgumentException("socket path " + path + " is " + name.length
                    + " bytes long; a Unix socket's path must be under " + SUN_PATH_BYTES);
        }
        MemorySegment addr = arena.allocate(2 + SUN_PATH_BYTES);
        addr.set(java.lang.foreign.ValueLayout.JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(name, 0, addr, java.lang.foreign.ValueLayout.JAVA_BYTE, 2, name.length);
        return addr;
    }

    private static IOException failure(String call, MemorySegment state) {
        return new IOException(call + " failed: errno " + errno(state));
    }

    private static int errno(MemorySegment state) {
        return (int) ERRNO.get(state, 0L);
    }

    /** A downcall whose declared Throwable is only ever an Error or RuntimeException. */
    private interface Downcall {
        Object call() throws Throwable;
    }

    private static Object invoke(Downcall d) {
        try {
            return d.call();
        } catch (Error | RuntimeException e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
