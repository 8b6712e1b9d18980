/**
 * Copies between the serving engine's paged KV caches and pool pages. With
 * {@code org.lmcache4j.memory}, the only package that does address arithmetic; every byte layout
 * is named in {@link org.lmcache4j.transfer.ChunkFormat} and {@link org.lmcache4j.transfer.PagedCaches}.
 */
package org.lmcache4j.transfer;
