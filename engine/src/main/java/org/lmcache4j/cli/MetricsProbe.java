package org.lmcache4j.cli;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

/** Scrapes the replay's own metrics endpoint once, so the report shows that it answered. */
final class MetricsProbe {
    private MetricsProbe() {
    }

    /** The number of {@code lmcache:} samples the endpoint serves, or -1 when it did not answer. */
    static long countSeries(int port) {
        try (HttpClient client = HttpClient.newHttpClient()) {
            HttpResponse<String> resp = client.send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics")).build(),
                    HttpResponse.BodyHandlers.ofString());
            return resp.statusCode() != 200 ? -1
                    : resp.body().lines().filter(l -> l.startsWith("lmcache:")).count();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }
}
