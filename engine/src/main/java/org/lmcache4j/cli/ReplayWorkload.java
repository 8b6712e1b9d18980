package org.lmcache4j.cli;

import java.util.Map;

/** What {@code replay} sends through the engine: prompts, one request at a time, in order. */
interface ReplayWorkload {
    int requests();

    /** Request {@code i}'s id (no spaces: it names the request in a dumped trace). */
    String requestId(int i);

    /** Request {@code i}'s prompt, as token ids; the same for every call. */
    int[] prompt(int i);

    int longestPrompt();

    /** When request {@code i} arrives, in milliseconds from the start; 0 for a workload without times. */
    long arrivalMs(int i);

    /** Adds what shapes the workload to the replay's report. */
    void describe(Map<String, Object> report);
}
