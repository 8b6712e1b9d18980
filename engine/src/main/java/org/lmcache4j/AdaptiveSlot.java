package org.lmcache4j;

import org.lmcache4j.keys.ChunkKey;

/**
 * One key as {@link AdaptivePolicy} knows it: its node in each {@link ShadowCache} (or null), its
 * pool entry (or null), and its links in the lists of pool chunks each shadow lacks. One object
 * per key, found with one hash lookup per chunk per request, where separate maps per shadow and
 * for the pool would cost five or six. Guarded by the engine's index lock.
 *
 * <pre>
 *   slot ── node[LRU]  ──▶ ShadowCache.Node in the LRU shadow's order   (null: the shadow lacks it)
 *        ── node[LRU2] ──▶ ShadowCache.Node in the LRU-2 shadow's order
 *        ── entry      ──▶ ChunkEntry in the pool                         (null: not cached)
 *        ── prev/next[s]   links in "pool chunks shadow s lacks", oldest lack first
 * </pre>
 */
final class AdaptiveSlot {
    final ChunkKey key;
    ChunkEntry entry;
    // Per shadow (0: LRU, 1: LRU-2), in fields rather than arrays: a request touches these for
    // every chunk, and each array would be one more object, one more cache miss.
    private ShadowCache.Node node0;
    private ShadowCache.Node node1;
    /** The shadow's request count when it last declined this key (0: never). */
    private long declinedAt0;
    private long declinedAt1;
    private AdaptiveSlot prev0;
    private AdaptiveSlot prev1;
    private AdaptiveSlot next0;
    private AdaptiveSlot next1;
    private boolean lacked0;
    private boolean lacked1;

    AdaptiveSlot(ChunkKey key) {
        this.key = key;
    }

    ShadowCache.Node node(int shadow) {
        return shadow == 0 ? node0 : node1;
    }

    void node(int shadow, ShadowCache.Node n) {
        if (shadow == 0) {
            node0 = n;
        } else {
            node1 = n;
        }
    }

    long declinedAt(int shadow) {
        return shadow == 0 ? declinedAt0 : declinedAt1;
    }

    void declinedAt(int shadow, long request) {
        if (shadow == 0) {
            declinedAt0 = request;
        } else {
            declinedAt1 = request;
        }
    }

    /** Whether nothing refers to this key any more: its slot can go. */
    boolean empty() {
        return entry == null && node0 == null && node1 == null;
    }

    /** The pool chunks a shadow lacks, in the order it came to lack them: an intrusive list. */
    static final class Lacking {
        private final int shadow;
        AdaptiveSlot head;
        private AdaptiveSlot tail;

        Lacking(int shadow) {
            this.shadow = shadow;
        }

        boolean contains(AdaptiveSlot s) {
            return shadow == 0 ? s.lacked0 : s.lacked1;
        }

        AdaptiveSlot after(AdaptiveSlot s) {
            return shadow == 0 ? s.next0 : s.next1;
        }

        void add(AdaptiveSlot s) {
            if (contains(s)) {
                return;
            }
            link(s, tail, null, true);
            if (tail == null) {
                head = s;
            } else {
                link(tail, before(tail), s, true);
            }
            tail = s;
        }

        void remove(AdaptiveSlot s) {
            if (!contains(s)) {
                return;
            }
            AdaptiveSlot p = before(s);
            AdaptiveSlot n = after(s);
            if (p == null) {
                head = n;
            } else {
                link(p, before(p), n, true);
            }
            if (n == null) {
                tail = p;
            } else {
                link(n, p, after(n), true);
            }
            link(s, null, null, false);
        }

        void clear() {
            for (AdaptiveSlot s = head; s != null; ) {
                AdaptiveSlot n = after(s);
                link(s, null, null, false);
                s = n;
            }
            head = tail = null;
        }

        private AdaptiveSlot before(AdaptiveSlot s) {
            return shadow == 0 ? s.prev0 : s.prev1;
        }

        private void link(AdaptiveSlot s, AdaptiveSlot prev, AdaptiveSlot next, boolean member) {
            if (shadow == 0) {
                s.prev0 = prev;
                s.next0 = next;
                s.lacked0 = member;
            } else {
                s.prev1 = prev;
                s.next1 = next;
                s.lacked1 = member;
            }
        }
    }
}
