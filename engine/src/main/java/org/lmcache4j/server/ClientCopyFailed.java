package org.lmcache4j.server;

/** A client answered COPY_DONE with a failure: its status (of lmcache4j.h) and message reach the request's answer. */
final class ClientCopyFailed extends RuntimeException {
    private final int status;

    ClientCopyFailed(int status, String message) {
        super("the client's copy failed: " + message);
        this.status = status;
    }

    int status() {
        return status;
    }
}
