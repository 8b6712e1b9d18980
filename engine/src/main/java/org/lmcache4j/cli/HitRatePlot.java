package org.lmcache4j.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * {@code simulate --plot FILE}: an SVG line chart of the prefix hit rate against the pool size,
 * one line per policy, the pool that never evicts as a dashed ceiling. The size axis is
 * logarithmic when the sizes span ten times or more. Plain SVG text, no plotting library.
 */
final class HitRatePlot {
    private static final int W = 640;
    private static final int H = 360;
    private static final int LEFT = 60;
    private static final int TOP = 40;
    private static final int RIGHT = 190;
    private static final int BOTTOM = 50;
    private static final String[] COLORS = {"#4f81bd", "#c0504d", "#9bbb59", "#8064a2", "#f79646", "#4bacc6",
            "#7f7f7f", "#000000"};

    private HitRatePlot() {
    }

    static void write(Path file, String title, List<SimulateCommand.Result> results, long promptTokens,
                      long infiniteHits, String defaultPolicy) {
        try {
            Files.writeString(file, svg(title, results, promptTokens, infiniteHits, defaultPolicy));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the plot " + file, e);
        }
    }

    static String svg(String title, List<SimulateCommand.Result> results, long promptTokens, long infiniteHits,
                      String defaultPolicy) {
        List<Long> sizes = results.stream().map(r -> r.capacity().tokens()).distinct().sorted().toList();
        List<String> policies = results.stream().map(SimulateCommand.Result::policy).distinct().toList();
        double lo = sizes.getFirst();
        double hi = sizes.getLast();
        boolean log = hi / lo >= 10;
        double infinite = 100 * SimulateCommand.rate(infiniteHits, promptTokens);
        double top = Math.min(100, Math.ceil((infinite + 5) / 10) * 10);
        StringBuilder s = new StringBuilder();
        s.append(f("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\""
                + " font-size=\"12\">%n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>%n",
                LEFT + W + RIGHT, TOP + H + BOTTOM));
        s.append(f("<text x=\"%d\" y=\"22\" font-size=\"15\" text-anchor=\"middle\">prefix hit rate by pool size: %s"
                + "</text>%n", LEFT + W / 2, escape(title)));
        for (int i = 0; i <= 5; i++) {
            double y = y(top * i / 5, top);
            s.append(f("<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/><text x=\"%d\" y=\"%.1f\""
                    + " text-anchor=\"end\">%.0f%%</text>%n", LEFT, y, LEFT + W, y, LEFT - 6, y + 4, top * i / 5));
        }
        for (long size : sizes) {
            double x = x(size, lo, hi, log);
            s.append(f("<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#eee\"/><text x=\"%.1f\" y=\"%d\""
                    + " text-anchor=\"middle\">%s</text>%n", x, TOP, x, TOP + H, x, TOP + H + 16, tokens(size)));
        }
        s.append(f("<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">pool size (tokens of KV%s)</text>%n",
                LEFT + W / 2, TOP + H + 38, log ? ", log scale" : ""));
        s.append(f("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>%n", LEFT, TOP + H, LEFT + W, TOP + H));
        double iy = y(infinite, top);
        s.append(f("<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"black\" stroke-dasharray=\"6 4\"/>%n",
                LEFT, iy, LEFT + W, iy));
        legend(s, 0, "#000000", true, f("never evicts: %.1f%%", infinite));
        for (int p = 0; p < policies.size(); p++) {
            String policy = policies.get(p);
            String color = COLORS[p % COLORS.length];
            boolean optimum = policy.equals(SimulatedPolicies.OPTIMUM);
            StringBuilder points = new StringBuilder();
            for (SimulateCommand.Result r : results) {
                if (r.policy().equals(policy)) {
                    double x = x(r.capacity().tokens(), lo, hi, log);
                    double rate = 100 * SimulateCommand.rate(r.hitTokens(), promptTokens);
                    points.append(f("%.1f,%.1f ", x, y(rate, top)));
                    s.append(f("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"><title>%s at %s tokens: %.1f%%"
                            + "</title></circle>%n", x, y(rate, top), color, policy, tokens(r.capacity().tokens()), rate));
                }
            }
            s.append(f("<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s/>%n",
                    points.toString().trim(), color, optimum ? " stroke-dasharray=\"2 3\"" : ""));
            legend(s, p + 1, color, optimum, policy.equals(defaultPolicy) ? policy + " (default)" : policy);
        }
        return s.append("</svg>\n").toString();
    }

    private static void legend(StringBuilder s, int row, String color, boolean dashed, String text) {
        int y = TOP + 10 + row * 20;
        s.append(f("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"2\"%s/><text x=\"%d\""
                + " y=\"%d\">%s</text>%n", LEFT + W + 14, y, LEFT + W + 40, y, color,
                dashed ? " stroke-dasharray=\"4 3\"" : "", LEFT + W + 46, y + 4, escape(text)));
    }

    private static double x(double size, double lo, double hi, boolean log) {
        if (hi == lo) {
            return LEFT + W / 2.0;
        }
        double t = log ? Math.log(size / lo) / Math.log(hi / lo) : (size - lo) / (hi - lo);
        return LEFT + 20 + t * (W - 40);
    }

    private static double y(double percent, double top) {
        return TOP + H - percent / top * H;
    }

    /** {@code 2.5M}, {@code 500K}, {@code 1200}. */
    static String tokens(long n) {
        if (n >= 1_000_000) {
            return trim(n / 1e6) + "M";
        }
        return n >= 10_000 ? trim(n / 1e3) + "K" : Long.toString(n);
    }

    private static String trim(double v) {
        String s = f("%.2f", v);
        return s.replaceAll("\\.?0+$", "");
    }

    private static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }

    private static String f(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }
}
