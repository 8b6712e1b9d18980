/**
 * The Java side of the C ABI ({@code native/include/lmcache4j.h}): what {@code liblmcache4j.so}
 * calls through JNI, and the lookup socket that lets another process ask an engine what it holds.
 *
 * <h2>How a C call reaches the engine</h2>
 * <pre>
 *  C caller ──► lmcache4j_lookup(engine, scope, tokens*, n, …)          native/src/api.c
 *                 │ attach the thread (once), CallStaticLongMethod
 *                 ▼
 *  NativeBridge.lookup(handle, salt*, len, adapter*, len, tokens*, n, …)
 *                 │ EngineHandles: handle → CacheEngine
 *                 │ NativeMemory: tokens* → int[] with one MemorySegment.copy
 *                 ▼
 *  CacheEngine.lookup(scope, int[])
 *                 │ result ≥ 0, or an exception
 *                 ▼
 *  long ≥ 0 (the result) or −status; the message waits in a thread-local for NativeBridge.takeError
 * </pre>
 *
 * Every entry point takes primitives and addresses only (no Java objects cross JNI), so the C side
 * creates no local references on the normal path. Arrays and strings are read from the caller's
 * memory with bulk {@code java.lang.foreign} copies. No exception leaves an entry point: each one
 * is turned into a status ({@link org.lmcache4j.bridge.NativeStatus}) and a message.
 *
 * <p>Engines are named by handles: positive numbers issued in order and never reused, so a call
 * on a closed engine is an error ({@code LMCACHE4J_ERR_CLOSED}), never a use-after-free.
 */
package org.lmcache4j.bridge;
