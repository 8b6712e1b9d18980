package org.lmcache4j.bench.model;

import java.util.List;
import java.util.Locale;

/**
 * An SVG of inter-token latency over time, one panel per loading mode on the same scales: each
 * step that someone decoded in is a dot at its start time and its duration, red when a load from
 * the disk or Redis was in flight during it, and the steps are joined by a grey line. Plain SVG
 * text, no plotting library, like {@link TtftPlot}.
 */
final class ItlPlot {
    private static final int PANEL_W = 860;
    private static final int PANEL_H = 220;
    private static final int LEFT = 60;
    private static final int TOP = 40;
    private static final int GAP = 60;
    private static final String QUIET = "#4f81bd";
    private static final String LOADING = "#c0504d";

    private ItlPlot() {
    }

    /** Draws the first run of each mode in {@code runs}. */
    static String svg(List<ServingReport.Mode> runs, String title) {
        List<ServingReport.Mode> modes = runs.stream()
                .filter(m -> runs.stream().filter(o -> o.name().equals(m.name())).findFirst().orElseThrow() == m).toList();
        double maxMs = 0;
        double maxS = 0; // from each run's first measured step
        for (ServingReport.Mode m : modes) {
            for (ServingRun.Step s : m.run().measured()) {
                if (s.itlSample()) {
                    maxMs = Math.max(maxMs, s.nanos() / 1e6);
                    maxS = Math.max(maxS, (s.startNanos() - m.run().measured().getFirst().startNanos()) / 1e9);
                }
            }
        }
        double topMs = 4 * TtftPlot.niceCeiling(maxMs / 4); // round quarter lines
        double topS = Math.max(1, Math.ceil(maxS)); // whole seconds
        int width = LEFT + PANEL_W + 30;
        int height = TOP + modes.size() * (PANEL_H + GAP) + 20;
        StringBuilder s = new StringBuilder();
        s.append(f("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
                + "font-size=\"12\">%n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>%n", width, height));
        s.append(f("<text x=\"%d\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">%s</text>%n", width / 2, title));
        for (int i = 0; i < modes.size(); i++) {
            panel(s, modes.get(i), TOP + i * (PANEL_H + GAP), topMs, topS);
        }
        int ly = height - 12;
        s.append(f("<circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">step with no load in flight</text>%n",
                LEFT + 6, ly - 4, QUIET, LEFT + 16, ly));
        s.append(f("<circle cx=\"%d\" cy=\"%d\" r=\"4\" fill=\"%s\"/><text x=\"%d\" y=\"%d\">step with a disk or Redis "
                + "load in flight</text>%n", LEFT + 226, ly - 4, LOADING, LEFT + 236, ly));
        return s.append("</svg>\n").toString();
    }

    private static void panel(StringBuilder s, ServingReport.Mode mode, int y0, double topMs, double topS) {
        int base = y0 + PANEL_H;
        s.append(f("<text x=\"%d\" y=\"%d\" font-weight=\"bold\">%s loading</text>%n", LEFT, y0 - 6,
                mode.name().equals("sync") ? "synchronous" : mode.name().equals("async") ? "asynchronous" : mode.name()));
        for (int i = 0; i <= 4; i++) {
            int y = base - i * PANEL_H / 4;
            s.append(f("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/><text x=\"%d\" y=\"%d\" "
                    + "text-anchor=\"end\">%s</text>%n", LEFT, y, LEFT + PANEL_W, y, LEFT - 4, y + 4, TtftPlot.label(topMs * i / 4)));
            int x = LEFT + i * PANEL_W / 4;
            s.append(f("<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s s</text>%n", x, base + 15, TtftPlot.label(topS * i / 4)));
        }
        s.append(f("<text x=\"%d\" y=\"%d\" transform=\"rotate(-90 %d %d)\" text-anchor=\"middle\">ITL (ms)</text>%n",
                LEFT - 42, y0 + PANEL_H / 2, LEFT - 42, y0 + PANEL_H / 2));
        StringBuilder line = new StringBuilder();
        StringBuilder dots = new StringBuilder();
        long origin = mode.run().measured().getFirst().startNanos();
        for (ServingRun.Step step : mode.run().measured()) {
            if (!step.itlSample()) {
                continue;
            }
            double x = LEFT + PANEL_W * ((step.startNanos() - origin) / 1e9) / topS;
            double y = base - PANEL_H * Math.min(1, step.nanos() / 1e6 / topMs);
            line.append(f("%.1f,%.1f ", x, y));
            dots.append(f("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%s\" fill=\"%s\"/>%n", x, y,
                    step.loading() ? "3" : "1.6", step.loading() ? LOADING : QUIET));
        }
        s.append(f("<polyline points=\"%s\" fill=\"none\" stroke=\"#aaa\" stroke-width=\"0.8\"/>%n", line.toString().trim()));
        s.append(dots);
        s.append(f("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>%n", LEFT, base, LEFT + PANEL_W, base));
    }

    private static String f(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }
}
