package org.lmcache4j.cli;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Scrapes the replay's own metrics endpoint, so the report shows that it answered and that the
 * series production-stack's LMCache dashboard queries are there and move.
 */
final class MetricsProbe {
    /**
     * The series {@code helm/dashboards/lmcache-dashboard.json} of vllm-project/production-stack
     * queries (read December 2026), besides vLLM's own time to first token.
     */
    static final List<String> DASHBOARD_SERIES = List.of("lmcache:local_cache_usage", "lmcache:num_hit_tokens_total",
            "lmcache:num_requested_tokens_total", "lmcache:retrieve_speed_sum", "lmcache:retrieve_speed_count");

    /** One scrape: its {@code lmcache:} samples (-1 when it did not answer) and the dashboard's series, summed. */
    record Scrape(long samples, Map<String, Double> dashboard) {
        static final Scrape NONE = new Scrape(-1, Map.of());
    }

    private MetricsProbe() {
    }

    static Scrape scrape(int port) {
        try (HttpClient client = HttpClient.newHttpClient()) {
            HttpResponse<String> resp = client.send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            return resp.statusCode() != 200 ? Scrape.NONE : parse(resp.body());
        } catch (IOException e) {
            return Scrape.NONE;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Scrape.NONE;
        }
    }

    static Scrape parse(String body) {
        Map<String, Double> dashboard = new LinkedHashMap<>();
        DASHBOARD_SERIES.forEach(s -> dashboard.put(s, null)); // null: absent from the scrape
        long samples = 0;
        for (String line : body.lines().toList()) {
            if (!line.startsWith("lmcache:")) {
                continue;
            }
            samples++;
            int brace = line.indexOf('{');
            String name = line.substring(0, brace < 0 ? line.indexOf(' ') : brace);
            if (dashboard.containsKey(name)) {
                double v = Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
                dashboard.merge(name, v, Double::sum);
            }
        }
        return new Scrape(samples, dashboard);
    }
}
