package org.lmcache4j.remote;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where the remote tier's own log lines go: SLF4J's {@code org.lmcache4j.remote.RedisTier} logger,
 * or, in tests, a list that they assert on (the engine's tests log through slf4j-simple, which has
 * no appender to capture).
 */
interface RemoteLog {
    void warn(String message);

    void info(String message);

    RemoteLog SLF4J = new RemoteLog() {
        private static final Logger LOG = LoggerFactory.getLogger(RedisTier.class);

        @Override
        public void warn(String message) {
            LOG.warn(message);
        }

        @Override
        public void info(String message) {
            LOG.info(message);
        }
    };
}
