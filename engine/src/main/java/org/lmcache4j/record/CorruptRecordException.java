package org.lmcache4j.record;

/** A record that must not be served: bad magic, version, checksum, size or contents. */
public final class CorruptRecordException extends Exception {
    public CorruptRecordException(String message) {
        super(message);
    }
}
