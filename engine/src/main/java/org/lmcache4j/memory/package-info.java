/**
 * Raw memory: the only package (with {@code org.lmcache4j.transfer}) that maps memory, does
 * address arithmetic or calls libc. Everything here is internal to the engine; the public API
 * is {@link org.lmcache4j.CacheEngine}.
 */
package org.lmcache4j.memory;
