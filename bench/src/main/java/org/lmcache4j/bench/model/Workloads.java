package org.lmcache4j.bench.model;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The prompts the TTFT replay serves, in order. Token ids are deterministic in the seed.
 *
 * <ul>
 * <li><b>chat</b>: every user's prompt is a shared system prompt, the user's history (earlier
 *     questions and answers) and a new question; round after round each prompt extends the last.
 * <li><b>docs</b>: long-document QA: several long documents, each queried several times with a
 *     short question appended; the queries of a round go over every document in turn.
 * </ul>
 */
final class Workloads {
    /** One prompt, labelled with its workload and round (from 0). */
    record Request(String workload, int round, int[] prompt) {
    }

    private Workloads() {
    }

    static List<Request> chat(int users, int rounds, int system, int question, int answer, int vocab, long seed) {
        int[] systemPrompt = tokens(new SplittableRandom(seed), system, vocab);
        List<Request> out = new ArrayList<>();
        for (int round = 0; round < rounds; round++) {
            for (int user = 0; user < users; user++) {
                int[] prompt = new int[system + round * (question + answer) + question];
                System.arraycopy(systemPrompt, 0, prompt, 0, system);
                int pos = system;
                for (int r = 0; r <= round; r++) {
                    int n = r < round ? question + answer : question;
                    int[] turn = tokens(new SplittableRandom(seed * 1_000_003L + user * 10_007L + r), question + answer, vocab);
                    System.arraycopy(turn, 0, prompt, pos, n);
                    pos += n;
                }
                out.add(new Request("chat", round, prompt));
            }
        }
        return out;
    }

    static List<Request> documents(int documents, int documentTokens, int queries, int queryTokens, int vocab,
                                   long seed) {
        List<Request> out = new ArrayList<>();
        for (int q = 0; q < queries; q++) {
            for (int d = 0; d < documents; d++) {
                int[] doc = tokens(new SplittableRandom(seed * 7919L + d), documentTokens, vocab);
                int[] question = tokens(new SplittableRandom(seed * 104_729L + d * 1009L + q), queryTokens, vocab);
                int[] prompt = new int[documentTokens + queryTokens];
                System.arraycopy(doc, 0, prompt, 0, documentTokens);
                System.arraycopy(question, 0, prompt, documentTokens, queryTokens);
                out.add(new Request("docs", q, prompt));
            }
        }
        return out;
    }

    static int[] tokens(SplittableRandom rnd, int n, int vocab) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextInt(vocab);
        }
        return t;
    }
}
