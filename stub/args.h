/*
 * Pure parsers for the arguments of RSP packets the stub serves: no VM, no
 * I/O, no allocation beyond the caller's buffers. Each returns true only for
 * input that is well-formed and in range; the fuzz target stub_args feeds
 * them arbitrary bytes.
 */
#ifndef STUB_ARGS_H
#define STUB_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A cursor over [p, end). */
struct stub_cursor {
    const char *p;
    const char *end;
};

bool stub_hex_u64(struct stub_cursor *c, uint64_t *out);   /* 1..16 hex digits */
bool stub_expect(struct stub_cursor *c, char ch);
/* Decode 2*n hex characters into n bytes. */
bool stub_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t n);

/* "ADDR,LEN" (m) */
bool stub_parse_addr_len(const char *a, size_t n, uint64_t *addr, uint64_t *len);
/* "ADDR,LEN:DATA" (M hex data, X binary data): *data points into a. */
bool stub_parse_addr_len_data(const char *a, size_t n, uint64_t *addr, uint64_t *len,
                              const char **data, size_t *data_len);

/* "TYPE,ADDR,KIND[;...]" (Z/z), TYPE 0..4 */
bool stub_parse_z(const char *a, size_t n, int *type, uint64_t *addr, uint64_t *kind);

/* A thread id: "-1" (all), "0" (any), hex, or "pPID.TID". */
#define STUB_TID_ALL (-1)
#define STUB_TID_ANY 0
bool stub_parse_tid(struct stub_cursor *c, int64_t *tid);

/* vCont actions: "c", "s", "Csig", "Ssig", "t", each with an optional ":tid". */
struct stub_vcont_action {
    char op;          /* 'c', 's', 't' (C/S folded into c/s with a signal) */
    int signal;       /* -1 if none */
    int64_t tid;      /* STUB_TID_ALL when absent */
};
/* a is the text after "vCont" (starting with ';'). Returns the number of
 * actions (>= 1), or -1 for malformed input or more than max actions. */
int stub_parse_vcont(const char *a, size_t n, struct stub_vcont_action *acts, int max);

/* "N" (p) and "N=VALUE" (P): value bytes (hex-decoded) into val. */
bool stub_parse_p(const char *a, size_t n, uint64_t *regnum);
bool stub_parse_P(const char *a, size_t n, uint64_t *regnum, uint8_t *val, size_t val_cap,
                  size_t *val_len);

/* Hex-encoded qRcmd text into a NUL-terminated string (cap includes NUL). */
bool stub_parse_rcmd(const char *hex, size_t n, char *out, size_t cap);

/* qXfer:OBJECT:read:ANNEX:OFFSET,LENGTH (a is the text after "qXfer:"). */
struct stub_xfer {
    char object[32];
    char annex[64];
    uint64_t offset, length;
};
bool stub_parse_xfer_read(const char *a, size_t n, struct stub_xfer *x);

#endif
