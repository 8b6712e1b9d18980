package org.lmcache4j.cli;

import java.util.HashMap;
import java.util.Map;
import java.util.function.IntUnaryOperator;

/**
 * Variants of {@link SimulatedAdaptive}'s duel, for {@link AdaptiveSpread} (not a policy of
 * {@code simulate}): prompts fall into one of 16 groups by the same hash bits as the policy's
 * sample; the first {@code groups} of them feed the shadows. With {@code need} 0 they feed one pair
 * of shadows at 1/{@code shadow} of the capacity (a larger sample); else each group has its own
 * pair and the pool ranks by LRU-2 while at least {@code need} groups' pairs vote for it (a vote:
 * LRU-2's shadow ahead by the margin, a {@code margin}-th of a shadow, at least 64 chunks); with
 * {@code against}, also only while fewer groups are that far behind; {@code decay} n: each score
 * loses an n-th at each of its group's prompts (a recent score, not the whole trace's).
 * {@code groups} 0: always LRU-2.
 * {@code groups=1,shadow=16,margin=4,need=0} is {@link SimulatedAdaptive}.
 */
final class DuelVariant extends WholePromptPolicy {
    /** The spec, e.g. {@code groups=4,shadow=16,margin=4,need=2,against=1}. */
    record Spec(int groups, int shadow, int margin, int need, boolean against, int decay) {
        static Spec parse(String spec) {
            Map<String, Integer> v = new HashMap<>(Map.of("groups", 1, "shadow", 16, "margin", 4, "need", 0, "against", 0, "decay", 0));
            for (String kv : spec.split(",")) {
                String[] p = kv.split("=");
                if (p.length != 2 || !v.containsKey(p[0].trim())) {
                    throw new IllegalArgumentException("variant: '" + kv + "' is not one of " + v.keySet() + " = a number");
                }
                v.put(p[0].trim(), Integer.parseInt(p[1].trim()));
            }
            return new Spec(v.get("groups"), v.get("shadow"), v.get("margin"), v.get("need"), v.get("against") != 0, v.get("decay"));
        }
    }

    private final Spec spec;
    private final RankedCache[] lru;
    private final RankedCache[] lru2;
    private final long[] score;
    private final IntUnaryOperator hash;
    private final long margin;

    DuelVariant(Spec spec, int capacity, IntUnaryOperator hash) {
        super(new RankedCache(capacity, spec.groups() == 0 ? SimulatedAdaptive.INFINITE : 0, hash, false));
        this.spec = spec;
        this.hash = hash;
        int shadow = Math.max(1, capacity / spec.shadow());
        int duels = spec.need() == 0 ? 1 : spec.groups();
        this.lru = new RankedCache[duels];
        this.lru2 = new RankedCache[duels];
        this.score = new long[duels];
        for (int d = 0; d < duels; d++) {
            lru[d] = new RankedCache(shadow, 0, hash, true);
            lru2[d] = new RankedCache(shadow, SimulatedAdaptive.INFINITE, hash, true);
        }
        this.margin = Math.max(SimulatedAdaptive.MIN_MARGIN, shadow / spec.margin());
    }

    @Override
    public String name() {
        return "duel " + spec;
    }

    @Override
    public void apply(int[] keys, boolean[] present) {
        if (keys.length == 0) {
            return;
        }
        int group = (hash.applyAsInt(keys[Math.min(keys.length - 1, SimulatedAdaptive.SAMPLE_DEPTH)]) >>> 8) & 15;
        if (group < spec.groups()) {
            int d = spec.need() == 0 ? 0 : group;
            score[d] += lru2[d].request(keys) - lru[d].request(keys);
            if (spec.decay() > 0) {
                score[d] -= score[d] / spec.decay();
            }
            cache.window = lru2Wins() ? SimulatedAdaptive.INFINITE : 0;
        }
        cache.request(keys);
    }

    private boolean lru2Wins() {
        if (spec.need() == 0) {
            return score[0] > margin;
        }
        int votes = 0;
        int against = 0;
        for (long s : score) {
            votes += s > margin ? 1 : 0;
            against += s < -margin ? 1 : 0;
        }
        return votes >= spec.need() && (!spec.against() || votes > against);
    }
}
