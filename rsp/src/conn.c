/* One peer on non-blocking fds: acks, retransmission, no-ack mode, and
 * buffered output that survives partial writes. Driven by a poll() loop. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rsp.h"
#include "rsp_internal.h"

#define READ_CHUNK (128u * 1024u)
/* Output queued beyond this means the peer stopped reading: refuse more
 * rather than grow without bound. */
#define MAX_QUEUED_OUTPUT (64u << 20)
/* A peer that naks this many times in a row is not going to accept anything. */
#define MAX_NAKS_IN_ROW 64

struct rsp_conn {
    int rfd, wfd;
    int rfd_flags, wfd_flags; /* restored on close when the fds are kept */
    bool keep_fds;
    bool noack;
    bool is_socket; /* send() with MSG_NOSIGNAL works */
    bool building;
    bool eof;
    unsigned naks;
    struct rsp_decoder dec;
    struct rsp_buf out; /* queued output; out_off bytes of it already written */
    size_t out_off;
    struct rsp_buf last; /* last packet frame, for retransmission on '-' */
    uint8_t *in;         /* read but not yet decoded input */
    size_t in_off, in_len;
    rsp_event_fn user_fn;
    void *user_ctx;
    char err[160];
};

static enum rsp_status fail(struct rsp_conn *c, enum rsp_status st, const char *what, int err)
{
    if (st == RSP_ERR_CLOSED)
        snprintf(c->err, sizeof c->err, "the peer closed the connection (%s: %s)", what,
                 err ? strerror(err) : "end of file");
    else
        snprintf(c->err, sizeof c->err, "%s: %s", what, err ? strerror(err) : rsp_status_str(st));
    return st;
}

enum rsp_status rsp_conn_new(int read_fd, int write_fd, const struct rsp_conn_options *opts,
                             struct rsp_conn **out)
{
    static const struct rsp_conn_options defaults = {0};
    if (!opts)
        opts = &defaults;
    *out = NULL;
    if (read_fd < 0 || write_fd < 0)
        return RSP_ERR_INVALID_ARG;
    struct rsp_conn *c = calloc(1, sizeof *c);
    if (!c)
        return RSP_ERR_NO_MEMORY;
    c->in = malloc(READ_CHUNK);
    enum rsp_status st = c->in ? rsp_decoder_init(&c->dec, opts->max_payload) : RSP_ERR_NO_MEMORY;
    if (st != RSP_OK) {
        free(c->in);
        free(c);
        return st;
    }
    c->rfd = read_fd;
    c->wfd = write_fd;
    c->keep_fds = opts->keep_fds_open;
    c->noack = opts->noack;
    /* Read both before changing either: 0 and 1 often share one file
     * description (gdb's "target remote |" gives us one socket twice). */
    c->rfd_flags = fcntl(read_fd, F_GETFL);
    c->wfd_flags = fcntl(write_fd, F_GETFL);
    rsp_set_nonblocking(read_fd);
    rsp_set_nonblocking(write_fd);
    int type;
    socklen_t tl = sizeof type;
    c->is_socket = getsockopt(write_fd, SOL_SOCKET, SO_TYPE, &type, &tl) == 0;
    *out = c;
    return RSP_OK;
}

void rsp_conn_close(struct rsp_conn *c)
{
    if (!c)
        return;
    if (c->keep_fds) {
        /* stdio is shared with the parent shell: give back its blocking mode. */
        if (c->wfd != c->rfd)
            rsp_restore_flags(c->wfd, c->wfd_flags);
        rsp_restore_flags(c->rfd, c->rfd_flags);
    } else {
        close(c->rfd);
        if (c->wfd != c->rfd)
            close(c->wfd);
    }
    rsp_decoder_fini(&c->dec);
    rsp_buf_free(&c->out);
    rsp_buf_free(&c->last);
    free(c->in);
    free(c);
}

int rsp_conn_fd(const struct rsp_conn *c) { return c->rfd; }
int rsp_conn_write_fd(const struct rsp_conn *c) { return c->wfd; }
bool rsp_conn_wants_write(const struct rsp_conn *c) { return c->out_off < c->out.len && !c->building; }
const char *rsp_conn_error(const struct rsp_conn *c) { return c->err[0] ? c->err : "no error"; }
void rsp_conn_set_noack(struct rsp_conn *c, bool noack)
{
    c->noack = noack;
    if (noack)
        rsp_buf_reset(&c->last);
}
bool rsp_conn_noack(const struct rsp_conn *c) { return c->noack; }
size_t rsp_conn_max_payload(const struct rsp_conn *c) { return c->dec.max_payload; }
bool rsp_conn_has_buffered_input(const struct rsp_conn *c) { return c->in_off < c->in_len; }

/* write() to a pipe whose reader is gone raises SIGPIPE, which would kill
 * the whole program; library code must not touch the process's handlers,
 * so the signal is blocked for this thread around the write and a SIGPIPE
 * it caused is consumed. Sockets use send(MSG_NOSIGNAL) instead. */
static ssize_t write_nosigpipe(int fd, const void *buf, size_t n)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    ssize_t r = write(fd, buf, n);
    int e = errno;
    if (r < 0 && e == EPIPE && !was_pending) {
        struct timespec zero = {0, 0};
        sigtimedwait(&pipe_set, NULL, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = e;
    return r;
}

enum rsp_status rsp_conn_on_writable(struct rsp_conn *c)
{
    /* Bytes of a frame still under construction are not ready to go. */
    size_t ready = c->building ? c->out.frame_start : c->out.len;
    while (c->out_off < ready) {
        ssize_t n;
        if (c->is_socket)
            n = send(c->wfd, c->out.data + c->out_off, ready - c->out_off, MSG_NOSIGNAL);
        else
            n = write_nosigpipe(c->wfd, c->out.data + c->out_off, ready - c->out_off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            if (errno == EPIPE || errno == ECONNRESET)
                return fail(c, RSP_ERR_CLOSED, "write", errno);
            return fail(c, RSP_ERR_IO, "write", errno);
        }
        c->out_off += (size_t)n;
    }
    if (!c->building && c->out_off == c->out.len) {
        c->out.len = 0;
        c->out_off = 0;
    } else if (!c->building && c->out_off > c->out.len / 2 && c->out_off > 65536) {
        memmove(c->out.data, c->out.data + c->out_off, c->out.len - c->out_off);
        c->out.len -= c->out_off;
        c->out_off = 0;
    }
    return RSP_OK;
}

enum rsp_status rsp_conn_flush(struct rsp_conn *c, int timeout_ms)
{
    int64_t deadline = rsp_deadline(timeout_ms);
    for (;;) {
        enum rsp_status st = rsp_conn_on_writable(c);
        if (st != RSP_OK || !rsp_conn_wants_write(c))
            return st;
        struct pollfd p = {.fd = c->wfd, .events = POLLOUT};
        int left = rsp_remaining_ms(deadline);
        int r = poll(&p, 1, left);
        if (r < 0 && errno != EINTR)
            return fail(c, RSP_ERR_IO, "poll", errno);
        if (r == 0)
            return fail(c, RSP_ERR_TIMEOUT, "write (peer not reading)", 0);
    }
}

enum rsp_status rsp_conn_send_raw(struct rsp_conn *c, const void *bytes, size_t len)
{
    if (c->building)
        return RSP_ERR_INVALID_ARG;
    if (c->out.len - c->out_off > MAX_QUEUED_OUTPUT)
        return fail(c, RSP_ERR_PROTOCOL, "the peer stopped reading (64 MiB queued)", 0);
    if (!rsp_buf_append(&c->out, bytes, len)) {
        c->out.failed = false;
        return fail(c, RSP_ERR_NO_MEMORY, "queue output", 0);
    }
    return rsp_conn_on_writable(c);
}

static struct rsp_buf *begin(struct rsp_conn *c, char lead)
{
    if (c->building)
        return NULL;
    c->building = true;
    rsp_frame_begin(&c->out, lead);
    return &c->out;
}

struct rsp_buf *rsp_conn_begin_packet(struct rsp_conn *c) { return begin(c, '$'); }
struct rsp_buf *rsp_conn_begin_notification(struct rsp_conn *c) { return begin(c, '%'); }

enum rsp_status rsp_conn_end_packet(struct rsp_conn *c, unsigned flags)
{
    if (!c->building)
        return RSP_ERR_INVALID_ARG;
    size_t start = c->out.frame_start;
    bool notification = c->out.data && c->out.data[start] == '%';
    enum rsp_status st = rsp_frame_end(&c->out, flags);
    c->building = false;
    if (st != RSP_OK)
        return fail(c, st, "build packet", 0);
    if (start - c->out_off > MAX_QUEUED_OUTPUT) {
        c->out.len = start;
        return fail(c, RSP_ERR_PROTOCOL, "the peer stopped reading (64 MiB queued)", 0);
    }
    /* Notifications are never acked, so never retransmitted. */
    if (!c->noack && !notification) {
        rsp_buf_reset(&c->last);
        if (!rsp_buf_append(&c->last, c->out.data + start, c->out.len - start)) {
            rsp_buf_free(&c->last);
            return fail(c, RSP_ERR_NO_MEMORY, "keep packet for retransmission", 0);
        }
    }
    return rsp_conn_on_writable(c);
}

enum rsp_status rsp_conn_send_packet(struct rsp_conn *c, const void *payload, size_t len)
{
    struct rsp_buf *b = rsp_conn_begin_packet(c);
    if (!b)
        return RSP_ERR_INVALID_ARG;
    rsp_frame_put(b, payload, len);
    return rsp_conn_end_packet(c, 0);
}

enum rsp_status rsp_conn_send_str(struct rsp_conn *c, const char *payload)
{
    return rsp_conn_send_packet(c, payload, strlen(payload));
}

enum rsp_status rsp_conn_send_notification(struct rsp_conn *c, const void *payload, size_t len)
{
    struct rsp_buf *b = rsp_conn_begin_notification(c);
    if (!b)
        return RSP_ERR_INVALID_ARG;
    rsp_frame_put(b, payload, len);
    return rsp_conn_end_packet(c, 0);
}

/* Protocol housekeeping for each decoded event, then the caller's callback. */
static int on_event(void *ctx, const struct rsp_event *ev)
{
    struct rsp_conn *c = ctx;
    static const uint8_t plus = '+', minus = '-';
    switch (ev->kind) {
    case RSP_EV_PACKET:
    case RSP_EV_OVERSIZED:
    case RSP_EV_MALFORMED:
        /* Resending cannot fix an oversized or malformed frame: ack it and
         * let the caller answer with an error. */
        if (!c->noack && !ev->notification)
            rsp_buf_append(&c->out, &plus, 1);
        break;
    case RSP_EV_BAD_CHECKSUM:
        if (!c->noack && !ev->notification)
            rsp_buf_append(&c->out, &minus, 1);
        break;
    case RSP_EV_NAK:
        if (!c->noack && c->last.len) {
            if (++c->naks > MAX_NAKS_IN_ROW) {
                fail(c, RSP_ERR_PROTOCOL, "peer rejected the same packet 64 times", 0);
                break;
            }
            rsp_buf_append(&c->out, c->last.data, c->last.len);
        }
        break;
    case RSP_EV_ACK:
        c->naks = 0;
        break;
    default:
        break;
    }
    return c->user_fn ? c->user_fn(c->user_ctx, ev) : 0;
}

/* Decode buffered input; true if the caller's callback asked to stop. */
static bool decode_buffered(struct rsp_conn *c)
{
    while (c->in_off < c->in_len) {
        size_t left = c->in_len - c->in_off;
        size_t used = rsp_decoder_feed(&c->dec, c->in + c->in_off, left, on_event, c);
        c->in_off += used;
        if (used < left)
            return true;
        if (c->out.failed) {
            c->out.failed = false; /* an ack was lost to OOM; the peer will retry */
        }
    }
    return false;
}

enum rsp_status rsp_conn_dispatch(struct rsp_conn *c, rsp_event_fn fn, void *ctx)
{
    if (c->building)
        return RSP_ERR_INVALID_ARG;
    if (c->in_off >= c->in_len)
        return RSP_ERR_AGAIN;
    c->user_fn = fn;
    c->user_ctx = ctx;
    decode_buffered(c);
    return c->building ? RSP_OK : rsp_conn_on_writable(c);
}

enum rsp_status rsp_conn_on_readable(struct rsp_conn *c, rsp_event_fn fn, void *ctx)
{
    if (c->building)
        return RSP_ERR_INVALID_ARG; /* acks would land inside the frame being built */
    c->user_fn = fn;
    c->user_ctx = ctx;
    enum rsp_status st = RSP_OK;
    if (decode_buffered(c))
        goto out;
    /* A bounded number of reads keeps one chatty peer from starving the
     * other fds of the caller's poll loop. */
    for (int round = 0; round < 8; round++) {
        ssize_t n = read(c->rfd, c->in, READ_CHUNK);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            st = fail(c, errno == ECONNRESET ? RSP_ERR_CLOSED : RSP_ERR_IO, "read", errno);
            break;
        }
        if (n == 0) {
            c->eof = true;
            st = RSP_ERR_CLOSED;
            snprintf(c->err, sizeof c->err, "the peer closed the connection");
            break;
        }
        c->in_off = 0;
        c->in_len = (size_t)n;
        if (decode_buffered(c))
            break;
        if ((size_t)n < READ_CHUNK)
            break;
    }
out:
    if (c->building)
        return st;
    if (st == RSP_OK)
        return rsp_conn_on_writable(c);
    /* Still flush (a half-closed peer may read our replies), but report the
     * read side's failure: it happened first. */
    char saved[sizeof c->err];
    memcpy(saved, c->err, sizeof saved);
    rsp_conn_on_writable(c);
    memcpy(c->err, saved, sizeof saved);
    return st;
}
