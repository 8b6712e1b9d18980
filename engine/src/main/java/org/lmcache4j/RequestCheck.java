package org.lmcache4j;

/**
 * Validates a request's arguments before the engine changes anything, so that bad input gets an
 * exception naming the value and leaves the cache as it was.
 */
final class RequestCheck {
    private RequestCheck() {
    }

    static void tokens(int[] tokens) {
        if (tokens == null) {
            throw new IllegalArgumentException("tokens must not be null");
        }
    }

    static void transfer(int[] tokens, long[] slotMapping, int skipLeading, int chunkSize, int numSlots) {
        tokens(tokens);
        if (slotMapping == null) {
            throw new IllegalArgumentException("slot_mapping must not be null");
        }
        if (slotMapping.length != tokens.length) {
            throw new IllegalArgumentException("slot_mapping has " + slotMapping.length
                    + " entries but there are " + tokens.length + " tokens");
        }
        if (skipLeading < 0 || skipLeading > tokens.length) {
            throw new IllegalArgumentException("skip_leading " + skipLeading + " is outside 0.."
                    + tokens.length + " tokens");
        }
        if (skipLeading % chunkSize != 0) {
            throw new IllegalArgumentException("skip_leading " + skipLeading
                    + " is not a multiple of chunk_size " + chunkSize);
        }
        for (int t = skipLeading; t < slotMapping.length; t++) {
            long slot = slotMapping[t];
            if (slot < -1 || slot >= numSlots) {
                throw new IllegalArgumentException("slot_mapping[" + t + "] = " + slot
                        + " is outside the registered caches (-1 or 0.." + (numSlots - 1) + ")");
            }
        }
    }

    static void requestId(String requestId) {
        if (requestId == null || requestId.isEmpty()) {
            throw new IllegalArgumentException("request id must not be empty");
        }
    }
}
