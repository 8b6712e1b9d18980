package org.lmcache4j;

/**
 * Extra key material of one request: chunks stored under one scope are invisible to every other
 * scope, so tenants with different cache salts never share, nor can probe, each other's chunks,
 * and KV computed under one LoRA adapter is never served to another. {@link #NONE} is the scope
 * of requests that name neither.
 *
 * @param cacheSalt a tenant's secret salt (vLLM's {@code cache_salt}), empty for none
 * @param adapter   the LoRA adapter the KV was computed with, empty for none
 */
public record KeyScope(String cacheSalt, String adapter) {
    public static final KeyScope NONE = new KeyScope("", "");

    public KeyScope {
        cacheSalt = cacheSalt == null ? "" : cacheSalt;
        adapter = adapter == null ? "" : adapter;
    }

    public static KeyScope ofSalt(String cacheSalt) {
        return new KeyScope(cacheSalt, "");
    }
}
