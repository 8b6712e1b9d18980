package org.lmcache4j.cli;

/**
 * A doubly linked list of chunk keys (small ints below a bound), threaded through arrays: O(1)
 * add, remove, move and membership without a node object per chunk, so that a policy over a
 * day of traffic (hundreds of thousands of chunks) runs in milliseconds. Head: the oldest end.
 */
final class KeyList {
    static final int NONE = -1;

    private final int[] prev;
    private final int[] next;
    private final boolean[] member;
    private int head = NONE;
    private int tail = NONE;
    private int size;

    KeyList(int keys) {
        prev = new int[keys];
        next = new int[keys];
        member = new boolean[keys];
    }

    boolean contains(int key) {
        return member[key];
    }

    int size() {
        return size;
    }

    /** The oldest key, or {@link #NONE}. */
    int first() {
        return head;
    }

    /** The newest key, or {@link #NONE}. */
    int last() {
        return tail;
    }

    /** The key before {@code key} (older), or {@link #NONE}. */
    int before(int key) {
        return prev[key];
    }

    /** The key after {@code key} (newer), or {@link #NONE}. */
    int after(int key) {
        return next[key];
    }

    /** Adds an absent key at the newest end. */
    void addLast(int key) {
        member[key] = true;
        prev[key] = tail;
        next[key] = NONE;
        if (tail == NONE) {
            head = key;
        } else {
            next[tail] = key;
        }
        tail = key;
        size++;
    }

    /** Removes a present key. */
    void remove(int key) {
        int p = prev[key];
        int n = next[key];
        if (p == NONE) {
            head = n;
        } else {
            next[p] = n;
        }
        if (n == NONE) {
            tail = p;
        } else {
            prev[n] = p;
        }
        member[key] = false;
        size--;
    }

    /** Moves a present key to the newest end. */
    void moveToLast(int key) {
        if (tail != key) {
            remove(key);
            addLast(key);
        }
    }
}
