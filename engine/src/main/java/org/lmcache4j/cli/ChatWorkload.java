package org.lmcache4j.cli;

import java.util.Random;

/**
 * A multi-round chat: every user's prompt is a shared system prompt, then the user's whole
 * history (each earlier question and the model's answer), then a new question. Round after
 * round the history grows, so each prompt starts with the previous one plus the answer, the
 * workload LMCache's benchmarks use to show prefix reuse. Token ids are deterministic in the
 * seed, so two runs (or two processes) see the same prompts.
 */
final class ChatWorkload implements ReplayWorkload {
    private static final int VOCABULARY = 32000;

    final int users;
    final int rounds;
    final int systemTokens;
    final int questionTokens;
    final int answerTokens;
    private final long seed;
    private final int[] systemPrompt;

    ChatWorkload(int users, int rounds, int systemTokens, int questionTokens, int answerTokens, long seed) {
        this.users = users;
        this.rounds = rounds;
        this.systemTokens = systemTokens;
        this.questionTokens = questionTokens;
        this.answerTokens = answerTokens;
        this.seed = seed;
        this.systemPrompt = tokens(new Random(seed), systemTokens);
    }

    /** The prompt of {@code user} in {@code round} (both from 0). */
    int[] prompt(int user, int round) {
        int[] prompt = new int[promptLength(round)];
        System.arraycopy(systemPrompt, 0, prompt, 0, systemTokens);
        int pos = systemTokens;
        for (int r = 0; r <= round; r++) {
            Random rnd = new Random(seed * 1_000_003L + user * 10_007L + r);
            int n = r < round ? questionTokens + answerTokens : questionTokens;
            System.arraycopy(tokens(rnd, questionTokens + answerTokens), 0, prompt, pos, n);
            pos += n;
        }
        return prompt;
    }

    int promptLength(int round) {
        return systemTokens + round * (questionTokens + answerTokens) + questionTokens;
    }

    /** Users take turns: request {@code i} is user {@code i % users} in round {@code i / users}. */
    @Override
    public int requests() {
        return users * rounds;
    }

    @Override
    public String requestId(int i) {
        return "user-" + i % users + "-round-" + i / users;
    }

    @Override
    public int[] prompt(int i) {
        return prompt(i % users, i / users);
    }

    @Override
    public int longestPrompt() {
        return promptLength(rounds - 1);
    }

    @Override
    public long arrivalMs(int i) {
        return 0;
    }

    @Override
    public void describe(java.util.Map<String, Object> report) {
        report.put("users", users);
        report.put("rounds", rounds);
    }

    private static int[] tokens(Random rnd, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = rnd.nextInt(VOCABULARY);
        }
        return t;
    }
}
