/*
 * The client's side of the server protocol's framing (include/lmcache4j_wire.h): building a
 * message body, reading one field by field, and moving whole messages over the socket, with the
 * SCM_RIGHTS descriptor a SLAB message carries. Nothing here knows what a message means.
 */
#ifndef LMCACHE4J_WIRE_IO_H
#define LMCACHE4J_WIRE_IO_H

#include <stddef.h>
#include <stdint.h>

#include "lmcache4j_wire.h"

#ifndef LMC_HIDDEN
#define LMC_HIDDEN __attribute__((visibility("hidden")))
#endif

/* A growing message body; `failed` is set (and the body left short) when memory runs out. */
typedef struct lmc_out {
    unsigned char *data;
    size_t length, capacity;
    int failed;
} lmc_out;

LMC_HIDDEN void lmc_out_u16(lmc_out *o, uint16_t v);
LMC_HIDDEN void lmc_out_u32(lmc_out *o, uint32_t v);
LMC_HIDDEN void lmc_out_u64(lmc_out *o, uint64_t v);
LMC_HIDDEN void lmc_out_bytes(lmc_out *o, const void *p, size_t n);
/* A string field; NULL is the wire's "none" (LMCACHE4J_WIRE_NULL_STRING). */
LMC_HIDDEN void lmc_out_text(lmc_out *o, const char *s);
/* count, then count little-endian elements of `size` bytes (4 or 8) from host memory. */
LMC_HIDDEN void lmc_out_array(lmc_out *o, const void *elements, size_t count, size_t size);
LMC_HIDDEN void lmc_out_free(lmc_out *o);

/* A received body, read from the front; `bad` is set on the first read past its end. */
typedef struct lmc_in {
    const unsigned char *data;
    size_t length, at;
    int bad;
} lmc_in;

LMC_HIDDEN uint16_t lmc_in_u16(lmc_in *in);
LMC_HIDDEN uint32_t lmc_in_u32(lmc_in *in);
LMC_HIDDEN uint64_t lmc_in_u64(lmc_in *in);
/* A string field as a pointer into the body and its length (not NUL-terminated); NULL for none. */
LMC_HIDDEN const char *lmc_in_text(lmc_in *in, uint32_t *length);

/* One message received: its type, body (malloc'd, to free) and the descriptor it carried (-1: none). */
typedef struct lmc_msg {
    uint16_t type;
    unsigned char *body;
    uint32_t length;
    int fd;
} lmc_msg;

/*
 * Sends header and body; 0, or -1 with errno set (EPIPE etc.: the server is gone). Never raises
 * SIGPIPE.
 */
LMC_HIDDEN int lmc_send(int fd, uint16_t type, const lmc_out *body);

/*
 * Receives one message. 0, or -1 with errno set: ECONNRESET for an orderly close, EPROTO for a
 * header that breaks the framing (reserved bits, a body over LMCACHE4J_WIRE_MAX_BODY, more than one
 * descriptor), ENOMEM for a body that cannot be allocated. The caller frees with lmc_msg_free.
 */
LMC_HIDDEN int lmc_recv(int fd, lmc_msg *msg);
LMC_HIDDEN void lmc_msg_free(lmc_msg *msg);

#endif
