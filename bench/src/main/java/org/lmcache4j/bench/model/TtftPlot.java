package org.lmcache4j.bench.model;

import java.util.List;
import java.util.Locale;

/**
 * An SVG bar chart of the median time to first token per round, without and with the engine,
 * one panel per workload. Plain SVG text, no plotting library.
 */
final class TtftPlot {
    /** One bar pair: a round of a workload. */
    record Bar(String workload, int round, double withoutMs, double withMs) {
    }

    private static final int PANEL_W = 420;
    private static final int PANEL_H = 260;
    private static final int MARGIN = 50;

    private TtftPlot() {
    }

    static String svg(List<Bar> bars, String title) {
        List<String> workloads = bars.stream().map(Bar::workload).distinct().toList();
        int width = workloads.size() * (PANEL_W + MARGIN) + MARGIN;
        int height = PANEL_H + 2 * MARGIN + 30;
        StringBuilder s = new StringBuilder();
        s.append(f("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
                + "font-size=\"12\">%n<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>%n", width, height));
        s.append(f("<text x=\"%d\" y=\"20\" font-size=\"15\" text-anchor=\"middle\">%s</text>%n", width / 2, title));
        for (int w = 0; w < workloads.size(); w++) {
            String name = workloads.get(w);
            panel(s, bars.stream().filter(b -> b.workload().equals(name)).toList(), name,
                    MARGIN + w * (PANEL_W + MARGIN), MARGIN);
        }
        int ly = height - 18;
        s.append(f("<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"#c0504d\"/>"
                + "<text x=\"%d\" y=\"%d\">without LMCache4j (full prefill)</text>%n", MARGIN, ly - 10, MARGIN + 16, ly));
        s.append(f("<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"12\" fill=\"#4f81bd\"/>"
                + "<text x=\"%d\" y=\"%d\">with LMCache4j</text>%n", MARGIN + 230, ly - 10, MARGIN + 246, ly));
        return s.append("</svg>\n").toString();
    }

    private static void panel(StringBuilder s, List<Bar> bars, String name, int x0, int y0) {
        double max = bars.stream().mapToDouble(b -> Math.max(b.withoutMs(), b.withMs())).max().orElse(1);
        double top = niceCeiling(max);
        int base = y0 + PANEL_H;
        s.append(f("<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-weight=\"bold\">%s</text>%n",
                x0 + PANEL_W / 2, y0 - 8, name));
        for (int i = 0; i <= 4; i++) {
            int y = base - i * PANEL_H / 4;
            s.append(f("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#ddd\"/>"
                    + "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s</text>%n",
                    x0, y, x0 + PANEL_W, y, x0 - 4, y + 4, label(top * i / 4)));
        }
        s.append(f("<text x=\"%d\" y=\"%d\" transform=\"rotate(-90 %d %d)\" text-anchor=\"middle\">TTFT p50 (ms)</text>%n",
                x0 - 38, y0 + PANEL_H / 2, x0 - 38, y0 + PANEL_H / 2));
        double slot = (double) PANEL_W / Math.max(1, bars.size());
        double barW = slot * 0.35;
        for (int i = 0; i < bars.size(); i++) {
            Bar b = bars.get(i);
            double x = x0 + i * slot + slot * 0.15;
            bar(s, x, barW, base, b.withoutMs() / top, "#c0504d", b.withoutMs());
            bar(s, x + barW, barW, base, b.withMs() / top, "#4f81bd", b.withMs());
            s.append(f("<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">round %d</text>%n", x + barW, base + 16, b.round() + 1));
        }
        s.append(f("<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>%n", x0, base, x0 + PANEL_W, base));
    }

    private static void bar(StringBuilder s, double x, double w, int base, double fraction, String color, double ms) {
        double h = Math.max(1, fraction * PANEL_H);
        s.append(f("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"><title>%s ms</title></rect>%n",
                x, base - h, w, h, color, label(ms)));
        s.append(f("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-size=\"10\">%s</text>%n",
                x + w / 2, base - h - 3, label(ms)));
    }

    /** The smallest 1, 2, 2.5 or 5 times a power of ten at or above {@code v}: an axis' top. */
    static double niceCeiling(double v) {
        double p = Math.pow(10, Math.floor(Math.log10(Math.max(v, 1e-9))));
        for (double m : new double[] {1, 2, 2.5, 5, 10}) {
            if (m * p >= v) {
                return m * p;
            }
        }
        return 10 * p;
    }

    /** An axis or bar label: fewer decimals as the value grows. */
    static String label(double ms) {
        return ms >= 100 || ms == 0 ? f("%.0f", ms) : ms >= 10 ? f("%.1f", ms) : f("%.2f", ms);
    }

    private static String f(String format, Object... args) {
        return String.format(Locale.ROOT, format, args);
    }
}
