package org.lmcache4j.cli;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * A trace's lines, read with bounded memory: a line ends at {@code \n} (a {@code \r} before it is
 * dropped), a UTF-8 byte order mark at the start of the file is skipped, and a line longer than
 * {@link #MAX_LINE_BYTES} or one that is not UTF-8 is refused naming its number, before it is read
 * whole (a request line of Mooncake's trace is a few KiB; a file without newlines must not take
 * the heap with it).
 */
final class TraceLines implements AutoCloseable {
    /** The longest line read: 16 MiB, over a thousand times the longest Mooncake request. */
    static final int MAX_LINE_BYTES = 16 << 20;

    private final InputStream in;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();
    private int lineNo;

    private TraceLines(InputStream in) {
        this.in = in;
    }

    /** Opens {@code file}, saying plainly when it is missing or a directory. */
    static TraceLines open(Path file) {
        if (Files.isDirectory(file)) {
            throw new IllegalArgumentException("cannot read the trace " + file + ": it is a directory");
        }
        try {
            return new TraceLines(new BufferedInputStream(Files.newInputStream(file), 1 << 16));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("cannot read the trace " + file + ": no such file", e);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the trace " + file + ": " + e.getMessage(), e);
        }
    }

    /** The number of the line {@link #next} returned last, from 1. */
    int lineNo() {
        return lineNo;
    }

    /** The next line without its end, or null at the end of the file. */
    String next() throws IOException {
        line.reset();
        int b = in.read();
        if (b < 0) {
            return null;
        }
        lineNo++;
        while (b >= 0 && b != '\n') {
            if (line.size() == MAX_LINE_BYTES) {
                throw new IllegalArgumentException("line " + lineNo + ": longer than " + (MAX_LINE_BYTES >> 20)
                        + " MiB, not a request");
            }
            line.write(b);
            b = in.read();
        }
        byte[] bytes = line.toByteArray();
        int start = lineNo == 1 && bytes.length >= 3 && (bytes[0] & 0xff) == 0xef && (bytes[1] & 0xff) == 0xbb
                && (bytes[2] & 0xff) == 0xbf ? 3 : 0;
        int end = bytes.length > start && bytes[bytes.length - 1] == '\r' ? bytes.length - 1 : bytes.length;
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(bytes, start, end - start)).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("line " + lineNo + ": not UTF-8 text (a binary file?)", e);
        }
    }

    @Override
    public void close() throws IOException {
        in.close();
    }
}
