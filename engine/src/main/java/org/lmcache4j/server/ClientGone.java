package org.lmcache4j.server;

import java.io.IOException;

/** The client's connection ended (it closed, died, or broke the protocol) while a request needed it. */
final class ClientGone extends RuntimeException {
    ClientGone(String message, Throwable cause) {
        super(message, cause);
    }

    ClientGone(IOException cause) {
        super("the client's connection is gone: " + cause.getMessage(), cause);
    }
}
