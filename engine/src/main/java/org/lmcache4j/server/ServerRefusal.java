package org.lmcache4j.server;

/** A request the server answered with an ERROR whose status (of lmcache4j.h) has no Java exception of its own. */
public final class ServerRefusal extends IllegalStateException {
    private final int status;

    ServerRefusal(int status, String message) {
        super(message + " (status " + status + ")");
        this.status = status;
    }

    /** The {@code lmcache4j_status} code the server answered. */
    public int status() {
        return status;
    }
}
