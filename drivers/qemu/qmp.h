/*
 * A small QMP client (QEMU Machine Protocol, JSON over a socket), built on
 * json-c. Synchronous commands with a timeout; asynchronous events (STOP,
 * RESUME, SHUTDOWN, ...) are queued while waiting and read by the caller.
 */
#ifndef MICROVMI_QEMU_QMP_H
#define MICROVMI_QEMU_QMP_H

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>

#include "microvmi.h"

/* Bound on one QMP line: `info mtree` or `info registers -a` of a big VM
 * are a few hundred KiB; anything past this is a broken peer. */
#define QMP_MAX_LINE (8u << 20)
#define QMP_MAX_EVENTS 64

/* ---- the pure part: bytes in, classified messages out (fuzzed) ---- */

enum qmp_msg_kind {
    QMP_MSG_GREETING, /* {"QMP": {...}} */
    QMP_MSG_RETURN,   /* {"return": X, "id": N} */
    QMP_MSG_ERROR,    /* {"error": {"class","desc"}, "id": N} */
    QMP_MSG_EVENT,    /* {"event": NAME, "data": {...}} */
    QMP_MSG_INVALID,  /* not JSON, or JSON of no known shape */
};

struct qmp_msg {
    enum qmp_msg_kind kind;
    long long id;           /* -1 when absent or not an integer */
    const char *event;      /* EVENT: its name (owned by obj) */
    const char *error_desc; /* ERROR: desc (owned by obj), never NULL for ERROR */
    json_object *value;     /* RETURN: the return value; EVENT: data (may be NULL) */
    json_object *obj;       /* the whole message; caller json_object_put()s it */
};

/* Classify one line (without its newline). Always fills *msg; kind INVALID
 * for garbage (obj NULL then). */
void qmp_parse_line(const char *line, size_t len, struct qmp_msg *msg);

/* Line splitter state: bytes in any split, whole lines out. */
struct qmp_lines {
    char *buf;
    size_t len, cap;
    bool overflow; /* discarding the rest of an over-long line */
};

/* Feed bytes; for each complete line call fn (return nonzero to stop: the
 * rest stays buffered). Returns false on allocation failure. */
bool qmp_lines_feed(struct qmp_lines *l, const char *bytes, size_t len,
                    int (*fn)(void *ctx, const char *line, size_t len), void *ctx);
/* Deliver lines already buffered (after fn stopped early). */
bool qmp_lines_drain(struct qmp_lines *l, int (*fn)(void *ctx, const char *line, size_t len),
                     void *ctx);
void qmp_lines_free(struct qmp_lines *l);

/* ---- the client ---- */

struct qmp;

/* spec: a unix socket path ("/run/q.sock", "unix:/run/q.sock") or "HOST:PORT".
 * Reads the greeting and negotiates capabilities. */
enum microvmi_status qmp_connect(const char *spec, int timeout_ms, struct qmp **out, char *err,
                                 size_t errlen);
void qmp_close(struct qmp *q);
int qmp_fd(const struct qmp *q);

/* Run one command. args (may be NULL) is consumed. On success *ret (if not
 * NULL) gets a new reference to the return value (json_object_put it). On a
 * QMP error, INVALID_ARG and err holds QEMU's desc; on a dead socket VM_GONE. */
enum microvmi_status qmp_execute(struct qmp *q, const char *cmd, json_object *args,
                                 json_object **ret, int timeout_ms, char *err, size_t errlen);
/* A human-monitor (HMP) command line; cpu_index < 0 means QEMU's default
 * CPU. *out is malloc'd text. */
enum microvmi_status qmp_hmp(struct qmp *q, const char *cmdline, int cpu_index, char **out,
                             int timeout_ms, char *err, size_t errlen);

/* The same in two halves, so QEMU formats while we do other work: send
 * now, collect later. One at a time: begin drops an earlier one. */
enum microvmi_status qmp_hmp_begin(struct qmp *q, const char *cmdline, int cpu_index, char *err,
                                   size_t errlen);
enum microvmi_status qmp_hmp_finish(struct qmp *q, char **out, int timeout_ms, char *err,
                                    size_t errlen);
bool qmp_hmp_pending(const struct qmp *q);
void qmp_hmp_cancel(struct qmp *q);

/* Read whatever is available now (non-blocking) into the event queue.
 * VM_GONE when the peer closed. */
enum microvmi_status qmp_pump(struct qmp *q);
/* Next queued event name (static string owned by q until the next call),
 * or NULL. Only the names are kept: the driver needs no event data. */
const char *qmp_next_event(struct qmp *q);
bool qmp_has_events(const struct qmp *q);
bool qmp_is_closed(const struct qmp *q);

#endif /* MICROVMI_QEMU_QMP_H */
