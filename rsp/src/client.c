/* Client side: request/reply with timeouts, stop replies and notifications
 * received whenever they come, and the 0x03 interrupt. Used by the qemu
 * driver (QEMU's gdbstub), tests and benchmarks. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net.h"
#include "rsp_internal.h"

/* A peer that floods us with unrequested packets must not exhaust memory. */
#define MAX_QUEUED 256

struct queued {
    struct queued *next;
    bool oversized;
    size_t len;
    uint8_t data[];
};

struct queue {
    struct queued *head, *tail;
    unsigned count;
};

struct rsp_client {
    struct rsp_conn *conn;
    struct queue packets;       /* replies and stop replies, in arrival order */
    struct queue notifications; /* '%' notifications */
    bool overflowed;
    /* While someone waits for a packet and none is queued, the next one is
     * decoded straight into the waiter's buffer (no queue copy, no malloc). */
    struct rsp_buf *direct;
    bool direct_filled;
    bool direct_oversized;
    char err[200];
};

static void queue_clear(struct queue *q)
{
    while (q->head) {
        struct queued *n = q->head->next;
        free(q->head);
        q->head = n;
    }
    q->tail = NULL;
    q->count = 0;
}

static bool queue_push(struct queue *q, const uint8_t *data, size_t len, bool oversized)
{
    if (q->count >= MAX_QUEUED)
        return false;
    struct queued *n = malloc(sizeof *n + len + 1);
    if (!n)
        return false;
    n->next = NULL;
    n->oversized = oversized;
    n->len = len;
    if (len)
        memcpy(n->data, data, len);
    n->data[len] = 0;
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
    q->count++;
    return true;
}

/* Move the oldest entry into out; RSP_ERR_AGAIN if empty. */
static enum rsp_status queue_pop(struct queue *q, struct rsp_buf *out)
{
    struct queued *n = q->head;
    if (!n)
        return RSP_ERR_AGAIN;
    q->head = n->next;
    if (!q->head)
        q->tail = NULL;
    q->count--;
    enum rsp_status st = RSP_OK;
    if (out) {
        rsp_buf_reset(out);
        if (!rsp_buf_append(out, n->data, n->len))
            st = RSP_ERR_NO_MEMORY;
    }
    if (n->oversized)
        st = RSP_ERR_TOO_BIG;
    free(n);
    return st;
}

static int on_event(void *ctx, const struct rsp_event *ev)
{
    struct rsp_client *cli = ctx;
    bool ok = true;
    if (cli->direct && !cli->direct_filled && !cli->packets.head &&
        (ev->kind == RSP_EV_PACKET || (ev->kind == RSP_EV_OVERSIZED && !ev->notification))) {
        cli->direct_filled = true;
        cli->direct_oversized = ev->kind == RSP_EV_OVERSIZED;
        rsp_buf_reset(cli->direct);
        if (ev->kind == RSP_EV_PACKET && !rsp_buf_append(cli->direct, ev->data, ev->len))
            cli->overflowed = true;
        return 1; /* later input stays buffered in the connection */
    }
    switch (ev->kind) {
    case RSP_EV_PACKET:
        ok = queue_push(&cli->packets, ev->data, ev->len, false);
        break;
    case RSP_EV_NOTIFICATION:
        ok = queue_push(&cli->notifications, ev->data, ev->len, false);
        break;
    case RSP_EV_OVERSIZED:
        if (!ev->notification)
            ok = queue_push(&cli->packets, NULL, 0, true);
        break;
    default:
        break; /* acks/naks are handled by the connection */
    }
    if (!ok)
        cli->overflowed = true;
    return 0;
}

static enum rsp_status client_fail(struct rsp_client *cli, enum rsp_status st, const char *what)
{
    snprintf(cli->err, sizeof cli->err, "%s: %s", what,
             st == RSP_ERR_TIMEOUT ? "no answer in time" : rsp_conn_error(cli->conn));
    return st;
}

enum rsp_status rsp_client_from_fds(int read_fd, int write_fd, const struct rsp_conn_options *opts,
                                    struct rsp_client **out)
{
    *out = NULL;
    struct rsp_client *cli = calloc(1, sizeof *cli);
    if (!cli)
        return RSP_ERR_NO_MEMORY;
    enum rsp_status st = rsp_conn_new(read_fd, write_fd, opts, &cli->conn);
    if (st != RSP_OK) {
        free(cli);
        return st;
    }
    *out = cli;
    return RSP_OK;
}

enum rsp_status rsp_client_connect(const char *spec, int timeout_ms,
                                   const struct rsp_conn_options *opts,
                                   struct rsp_client **out, char *err, size_t errlen)
{
    *out = NULL;
    struct rsp_spec s;
    enum rsp_status st = rsp_spec_parse(spec, &s, err, errlen);
    if (st != RSP_OK)
        return st;
    if (s.kind == RSP_SPEC_STDIO) {
        rsp_set_err(err, errlen, "'stdio' cannot be connected to; use rsp_client_from_fds");
        return RSP_ERR_INVALID_ARG;
    }
    int fd = rsp_net_connect(&s, timeout_ms, err, errlen);
    if (fd < 0)
        return errno == ETIMEDOUT ? RSP_ERR_TIMEOUT : RSP_ERR_IO;
    struct rsp_conn_options o = {0};
    if (opts)
        o = *opts;
    o.keep_fds_open = false;
    st = rsp_client_from_fds(fd, fd, &o, out);
    if (st != RSP_OK) {
        rsp_set_err(err, errlen, "connect: %s", rsp_status_str(st));
        close(fd);
    }
    return st;
}

void rsp_client_close(struct rsp_client *cli)
{
    if (!cli)
        return;
    rsp_conn_close(cli->conn);
    queue_clear(&cli->packets);
    queue_clear(&cli->notifications);
    free(cli);
}

int rsp_client_fd(const struct rsp_client *cli) { return rsp_conn_fd(cli->conn); }
struct rsp_conn *rsp_client_conn(struct rsp_client *cli) { return cli->conn; }
const char *rsp_client_error(const struct rsp_client *cli) { return cli->err[0] ? cli->err : "no error"; }

enum rsp_status rsp_client_pump(struct rsp_client *cli)
{
    enum rsp_status st = rsp_conn_on_readable(cli->conn, on_event, cli);
    if (st != RSP_OK)
        return client_fail(cli, st, "receive");
    return RSP_OK;
}

static bool have_packet(const struct rsp_client *cli)
{
    return cli->packets.head || cli->direct_filled;
}

/* Wait until a packet is queued or delivered directly (or deadline). */
static enum rsp_status wait_packet(struct rsp_client *cli, int64_t deadline)
{
    /* Input left buffered by an earlier early stop comes first. */
    if (!have_packet(cli) && rsp_conn_has_buffered_input(cli->conn))
        rsp_conn_dispatch(cli->conn, on_event, cli);
    while (!have_packet(cli)) {
        struct pollfd p[2] = {{.fd = rsp_conn_fd(cli->conn), .events = POLLIN}};
        nfds_t n = 1;
        if (rsp_conn_wants_write(cli->conn)) {
            if (rsp_conn_write_fd(cli->conn) == p[0].fd) {
                p[0].events |= POLLOUT;
            } else {
                p[1] = (struct pollfd){.fd = rsp_conn_write_fd(cli->conn), .events = POLLOUT};
                n = 2;
            }
        }
        int r = poll(p, n, rsp_remaining_ms(deadline));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            snprintf(cli->err, sizeof cli->err, "poll: %s", strerror(errno));
            return RSP_ERR_IO;
        }
        if (r == 0)
            return client_fail(cli, RSP_ERR_TIMEOUT, "wait for reply");
        enum rsp_status st = rsp_conn_on_writable(cli->conn);
        if (st != RSP_OK)
            return client_fail(cli, st, "send");
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            st = rsp_client_pump(cli);
            if (st != RSP_OK && !have_packet(cli))
                return st;
        }
    }
    return RSP_OK;
}

enum rsp_status rsp_client_send(struct rsp_client *cli, const void *payload, size_t len)
{
    enum rsp_status st = rsp_conn_send_packet(cli->conn, payload, len);
    if (st != RSP_OK)
        return client_fail(cli, st, "send");
    return RSP_OK;
}

enum rsp_status rsp_client_wait_stop(struct rsp_client *cli, struct rsp_buf *pkt, int timeout_ms)
{
    struct rsp_buf scratch = RSP_BUF_INIT;
    cli->direct = pkt ? pkt : &scratch;
    cli->direct_filled = cli->direct_oversized = false;
    enum rsp_status st = wait_packet(cli, rsp_deadline(timeout_ms));
    bool direct = cli->direct_filled, oversized = cli->direct_oversized;
    cli->direct = NULL;
    cli->direct_filled = false;
    /* Whatever else was read goes to the queues now, so rsp_client_pending
     * tells a poll() loop the truth. */
    rsp_conn_dispatch(cli->conn, on_event, cli);
    rsp_buf_free(&scratch);
    if (st != RSP_OK)
        return st;
    if (direct)
        st = oversized ? RSP_ERR_TOO_BIG : pkt && pkt->failed ? RSP_ERR_NO_MEMORY : RSP_OK;
    else
        st = queue_pop(&cli->packets, pkt);
    if (st == RSP_ERR_TOO_BIG)
        snprintf(cli->err, sizeof cli->err,
                 "reply larger than %zu bytes (raise max_payload)", rsp_conn_max_payload(cli->conn));
    return st;
}

enum rsp_status rsp_client_request(struct rsp_client *cli, const void *payload, size_t len,
                                   struct rsp_buf *reply, int timeout_ms)
{
    int64_t deadline = rsp_deadline(timeout_ms);
    enum rsp_status st = rsp_client_send(cli, payload, len);
    if (st != RSP_OK)
        return st;
    return rsp_client_wait_stop(cli, reply, rsp_remaining_ms(deadline));
}

enum rsp_status rsp_client_request_str(struct rsp_client *cli, const char *payload,
                                       struct rsp_buf *reply, int timeout_ms)
{
    return rsp_client_request(cli, payload, strlen(payload), reply, timeout_ms);
}

bool rsp_client_pending(const struct rsp_client *cli)
{
    return cli->packets.head || cli->notifications.head || rsp_conn_has_buffered_input(cli->conn);
}

enum rsp_status rsp_client_next_notification(struct rsp_client *cli, struct rsp_buf *out)
{
    return queue_pop(&cli->notifications, out);
}

enum rsp_status rsp_client_interrupt(struct rsp_client *cli)
{
    static const uint8_t ctrl_c = 0x03;
    enum rsp_status st = rsp_conn_send_raw(cli->conn, &ctrl_c, 1);
    return st == RSP_OK ? st : client_fail(cli, st, "send interrupt");
}

enum rsp_status rsp_client_start_noack(struct rsp_client *cli, int timeout_ms, bool *enabled)
{
    struct rsp_buf reply = RSP_BUF_INIT;
    if (enabled)
        *enabled = false;
    enum rsp_status st = rsp_client_request_str(cli, "QStartNoAckMode", &reply, timeout_ms);
    if (st == RSP_OK && reply.len == 2 && memcmp(reply.data, "OK", 2) == 0) {
        /* The '+' for this OK was queued by the connection, still in ack
         * mode; everything after it goes without acks. */
        rsp_conn_set_noack(cli->conn, true);
        if (enabled)
            *enabled = true;
    }
    rsp_buf_free(&reply);
    return st;
}
