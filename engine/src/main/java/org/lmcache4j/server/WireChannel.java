package org.lmcache4j.server;

import org.lmcache4j.memory.UnixSockets;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * One connected Unix socket speaking {@link WireProtocol}: reads whole messages and writes them,
 * a descriptor with a SLAB. Used by one thread at a time (the connection's own); {@link #shutdown}
 * may come from any thread and wakes a read blocked on it.
 */
final class WireChannel implements AutoCloseable {
    /** A message read: its type, its body (valid until the next read), and a descriptor that came with it, or -1. */
    record Message(int type, ByteBuffer body, int fd) {
        WireReader reader(String what) {
            return new WireReader(body, what);
        }
    }

    private final UnixSockets sockets;
    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment header;
    private MemorySegment in;
    private MemorySegment out;

    WireChannel(UnixSockets sockets, int fd) {
        this.sockets = sockets;
        this.fd = fd;
        this.header = arena.allocate(WireProtocol.HEADER_BYTES, 8);
        this.in = arena.allocate(4096, 8);
        this.out = arena.allocate(4096, 8);
    }

    int fd() {
        return fd;
    }

    UnixSockets sockets() {
        return sockets;
    }

    /**
     * The next message. A peer that closed is {@link java.io.EOFException}; a header that breaks
     * the rules is {@link WireReader.MalformedMessage}.
     */
    Message read() throws IOException {
        int received = sockets.read(fd, header);
        ByteBuffer h = header.asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
        long length = Integer.toUnsignedLong(h.getInt(0));
        int type = Short.toUnsignedInt(h.getShort(4));
        int reserved = Short.toUnsignedInt(h.getShort(6));
        if (reserved != 0 || length > WireProtocol.MAX_BODY) {
            closeQuietly(received);
            throw new WireReader.MalformedMessage(reserved != 0 ? "a message header's reserved field is " + reserved
                    : "a message body of " + length + " bytes is more than the protocol's " + WireProtocol.MAX_BODY);
        }
        if (in.byteSize() < length) {
            in = arena.allocate(Math.max(length, in.byteSize() * 2), 8); // the shared arena frees it at close
        }
        MemorySegment body = in.asSlice(0, length);
        if (length > 0) {
            int more = sockets.read(fd, body);
            if (more >= 0) {
                closeQuietly(received);
                received = more;
            }
        }
        return new Message(type, body.asByteBuffer().order(ByteOrder.LITTLE_ENDIAN), received);
    }

    void write(WireWriter message) throws IOException {
        write(message, -1);
    }

    /** Writes a message, with {@code passFd} in SCM_RIGHTS on its first byte if it is not -1. */
    void write(WireWriter message, int passFd) throws IOException {
        ByteBuffer bytes = message.bytes();
        if (out.byteSize() < bytes.remaining()) {
            out = arena.allocate(Math.max(bytes.remaining(), out.byteSize() * 2), 8);
        }
        MemorySegment msg = out.asSlice(0, bytes.remaining());
        MemorySegment.copy(MemorySegment.ofBuffer(bytes), JAVA_BYTE, 0, msg, JAVA_BYTE, 0, bytes.remaining());
        sockets.write(fd, msg, passFd);
    }

    /** Ends both directions: a read blocked on this connection returns, the peer sees the end. */
    void shutdown() {
        sockets.shutdown(fd);
    }

    @Override
    public void close() {
        sockets.close(fd);
        arena.close();
    }

    private void closeQuietly(int descriptor) {
        if (descriptor >= 0) {
            sockets.close(descriptor); // a descriptor nobody asked for: never keep it
        }
    }
}
