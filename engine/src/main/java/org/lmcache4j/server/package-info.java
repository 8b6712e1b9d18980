/**
 * {@code lmcache4j server}: one engine per tensor-parallel rank of one model, within the machine's one
 * budget ({@link org.lmcache4j.server.RankShare}), shared by every serving process of its user
 * through a Unix socket ({@link org.lmcache4j.server.EngineServer}). Requests cross the socket
 * ({@link org.lmcache4j.server.WireProtocol}, defined in {@code native/include/lmcache4j_wire.h});
 * KV bytes do not: the pool's slabs are shared memory that clients map, and the clients run the
 * copies the engine plans ({@link org.lmcache4j.server.ClientTransfer}). docs/server.md explains it.
 */
package org.lmcache4j.server;
