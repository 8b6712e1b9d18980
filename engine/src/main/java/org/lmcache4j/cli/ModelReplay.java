package org.lmcache4j.cli;

import org.lmcache4j.EngineConfig;

import java.io.PrintStream;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.ServiceLoader;

/** {@code replay --model NAME} where NAME is a {@link ReplayModel} (the reference transformer): runs it. */
final class ModelReplay {
    static final String REFERENCE = "reference";

    private ModelReplay() {
    }

    /** Whether {@code --model name} asks for a replay model rather than the synthetic replay. */
    static boolean wants(String name) {
        return name.equals(REFERENCE) || find(name).isPresent();
    }

    static int run(String name, Args args, PrintStream out, PrintStream err) {
        ReplayModel model = find(name).orElseThrow(() -> new IllegalStateException("--model " + name
                + ": no replay model of that name on the class path; the reference model is in "
                + "bench/target/lmcache4j-bench-*.jar (./lmcache4j builds it and puts it on the class path)"));
        Map<String, String> options = new LinkedHashMap<>();
        model.options().forEach((k, v) -> options.put(k, args.string(k).orElse(v)));
        EngineConfig config = LayoutOptions.config(args);
        boolean json = args.flag("json");
        args.flag("verbose");
        args.finish();
        ReplayModel.Result result = model.replay(options, config, err);
        out.println(json ? Json.write(result.report()) : result.table());
        return result.ok() ? 0 : 1;
    }

    private static Optional<ReplayModel> find(String name) {
        return ServiceLoader.load(ReplayModel.class).stream().map(ServiceLoader.Provider::get)
                .filter(m -> m.name().equals(name)).findFirst();
    }
}
