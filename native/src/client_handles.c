/*
 * The client engines of this process, by handle: LMC_CLIENT_HANDLE_BIT | 1, 2, 3… in the order they
 * open, never reused. A handle at or below the last issued and no longer open is a closed engine
 * (LMCACHE4J_ERR_CLOSED); any other number was never one. Close waits for the calls running on
 * the engine (they hold it with lmc_handles_get/put) before the connection ends.
 */
#include <stdlib.h>

#include "client_api.h"

typedef struct entry {
    lmc_client *client; /* NULL once closed */
    int users;
    int closing;
} entry;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t left = PTHREAD_COND_INITIALIZER;
static entry *entries;
static uint64_t issued, capacity;

int lmc_handles_add(lmc_client *c, lmcache4j_engine *out_engine) {
    pthread_mutex_lock(&lock);
    if (issued == capacity) {
        uint64_t grown_capacity = capacity ? capacity * 2 : 16;
        entry *grown = realloc(entries, grown_capacity * sizeof *grown);
        if (!grown) {
            pthread_mutex_unlock(&lock);
            return lmc_fail(LMCACHE4J_ERR_NO_MEMORY, "out of memory for an engine handle");
        }
        entries = grown;
        capacity = grown_capacity;
    }
    entries[issued] = (entry){c, 0, 0};
    *out_engine = LMC_CLIENT_HANDLE_BIT | ++issued;
    pthread_mutex_unlock(&lock);
    return LMCACHE4J_OK;
}

/* The entry of a handle, or a status; called under lock. */
static int find(lmcache4j_engine engine, entry **e) {
    uint64_t n = engine & ~LMC_CLIENT_HANDLE_BIT;
    if (n == 0 || n > issued) {
        return lmc_fail(LMCACHE4J_ERR_INVALID_ARGUMENT, "0x%llx is not an engine handle", (unsigned long long)engine);
    }
    *e = &entries[n - 1];
    if (!(*e)->client || (*e)->closing) {
        return lmc_fail(LMCACHE4J_ERR_CLOSED, "engine 0x%llx is closed", (unsigned long long)engine);
    }
    return LMCACHE4J_OK;
}

int lmc_handles_get(lmcache4j_engine engine, lmc_client **c) {
    pthread_mutex_lock(&lock);
    entry *e;
    int rc = find(engine, &e);
    if (!rc) {
        e->users++;
        *c = e->client;
    }
    pthread_mutex_unlock(&lock);
    return rc;
}

void lmc_handles_put(lmcache4j_engine engine) {
    pthread_mutex_lock(&lock);
    entry *e = &entries[(engine & ~LMC_CLIENT_HANDLE_BIT) - 1];
    if (--e->users == 0 && e->closing) pthread_cond_broadcast(&left);
    pthread_mutex_unlock(&lock);
}

int lmc_handles_close(lmcache4j_engine engine) {
    pthread_mutex_lock(&lock);
    entry *e;
    int rc = find(engine, &e);
    if (rc) {
        pthread_mutex_unlock(&lock);
        return rc;
    }
    e->closing = 1; /* new calls see a closed engine from here */
    uint64_t i = (engine & ~LMC_CLIENT_HANDLE_BIT) - 1;
    while (entries[i].users > 0) pthread_cond_wait(&left, &lock); /* entries may move meanwhile: index again */
    lmc_client *c = entries[i].client;
    entries[i].client = NULL;
    pthread_mutex_unlock(&lock);
    lmc_client_free(c);
    lmc_clear_error();
    return LMCACHE4J_OK;
}
