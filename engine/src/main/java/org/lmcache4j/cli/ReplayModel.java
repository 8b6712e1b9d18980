package org.lmcache4j.cli;

import org.lmcache4j.EngineConfig;

import java.io.PrintStream;
import java.util.Map;

/**
 * A model that {@code lmcache4j replay --model NAME} can run in place of the synthetic replay: a
 * real computation whose time to first token is measured with and without the engine. The CLI
 * finds implementations with {@link java.util.ServiceLoader}; the reference transformer lives in
 * the bench module ({@code org.lmcache4j.bench.model.ReferenceReplay}), which the engine must not
 * depend on, so it is registered there in {@code META-INF/services}.
 */
public interface ReplayModel {
    /** What {@code --model} names it by. */
    String name();

    /** The options it reads (name without {@code --}, default value), in the order usage lists them. */
    Map<String, String> options();

    /** Runs the replay with {@code options} (every key of {@link #options()}) on engines configured by {@code config}. */
    Result replay(Map<String, String> options, EngineConfig config, PrintStream progress);

    /** The report ({@code --json}), the same as a table for people, and whether everything checked out. */
    record Result(Map<String, Object> report, String table, boolean ok) {
    }
}
