/* The QMP client: connect, negotiate, run commands with a timeout, queue
 * events that arrive in between. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "qmp.h"
#include "sockutil.h"

struct qmp {
    int fd;
    bool closed;
    long long next_id;
    struct qmp_lines lines;
    /* the reply being waited for */
    long long want_id;
    bool got_reply;
    bool got_greeting;
    struct qmp_msg reply;
    /* one command sent ahead (qmp_hmp_begin), its reply kept when it comes */
    long long async_id;
    bool async_done;
    struct qmp_msg async_reply;
    /* event names, a ring */
    char events[QMP_MAX_EVENTS][40];
    unsigned ev_head, ev_count;
    char ev_out[40];
};

static int on_line(void *ctx, const char *line, size_t len)
{
    struct qmp *q = ctx;
    struct qmp_msg m;
    qmp_parse_line(line, len, &m);
    switch (m.kind) {
    case QMP_MSG_EVENT:
        if (q->ev_count == QMP_MAX_EVENTS) { /* drop the oldest */
            q->ev_head = (q->ev_head + 1) % QMP_MAX_EVENTS;
            q->ev_count--;
        }
        snprintf(q->events[(q->ev_head + q->ev_count) % QMP_MAX_EVENTS], sizeof q->events[0],
                 "%s", m.event);
        q->ev_count++;
        break;
    case QMP_MSG_GREETING:
        q->got_greeting = true;
        break;
    case QMP_MSG_RETURN:
    case QMP_MSG_ERROR:
        /* A reply to a request that timed out earlier has a stale id: drop it. */
        if (!q->got_reply && q->want_id >= 0 && m.id == q->want_id) {
            q->reply = m;
            q->got_reply = true;
            return 1;
        }
        if (!q->async_done && q->async_id >= 0 && m.id == q->async_id) {
            q->async_reply = m;
            q->async_done = true;
            return 0;
        }
        break;
    case QMP_MSG_INVALID:
        break;
    }
    json_object_put(m.obj);
    return 0;
}

/* Read once (after poll said readable or non-blocking). */
static enum microvmi_status read_some(struct qmp *q)
{
    char buf[65536];
    ssize_t n = read(q->fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR && errno != EWOULDBLOCK)) {
        q->closed = true;
        return MICROVMI_VM_GONE;
    }
    if (n < 0)
        return MICROVMI_OK;
    if (!qmp_lines_feed(&q->lines, buf, (size_t)n, on_line, q))
        return MICROVMI_OUT_OF_MEMORY;
    return MICROVMI_OK;
}

/* Wait until cond(q) or the deadline. */
static enum microvmi_status wait_for(struct qmp *q, bool (*cond)(struct qmp *), int timeout_ms)
{
    int64_t deadline = qemu_now_ms() + timeout_ms;
    qmp_lines_drain(&q->lines, on_line, q);
    while (!cond(q)) {
        if (q->closed)
            return MICROVMI_VM_GONE;
        int left = (int)(deadline - qemu_now_ms());
        if (timeout_ms >= 0 && left <= 0)
            return MICROVMI_TIMEOUT;
        struct pollfd p = { .fd = q->fd, .events = POLLIN };
        int r = poll(&p, 1, timeout_ms < 0 ? -1 : left);
        if (r < 0 && errno != EINTR)
            return MICROVMI_IO_ERROR;
        if (r > 0) {
            enum microvmi_status st = read_some(q);
            if (st != MICROVMI_OK)
                return st;
        }
    }
    return MICROVMI_OK;
}

static bool have_greeting(struct qmp *q) { return q->got_greeting; }
static bool have_reply(struct qmp *q) { return q->got_reply; }

enum microvmi_status qmp_connect(const char *spec, int timeout_ms, struct qmp **out, char *err,
                                 size_t errlen)
{
    *out = NULL;
    int fd = -1;
    enum microvmi_status st = qemu_sock_connect(spec, timeout_ms, &fd, err, errlen);
    if (st != MICROVMI_OK)
        return st;
    struct qmp *q = calloc(1, sizeof *q);
    if (!q) {
        close(fd);
        return MICROVMI_OUT_OF_MEMORY;
    }
    q->fd = fd;
    q->want_id = -1;
    q->async_id = -1;
    q->next_id = 1;
    st = wait_for(q, have_greeting, timeout_ms);
    if (st != MICROVMI_OK) {
        snprintf(err, errlen,
                 "QMP at %s sent no greeting (%s): is it a QMP socket (-qmp, not -monitor) and "
                 "is no other client connected?",
                 spec, microvmi_status_str(st));
        qmp_close(q);
        return MICROVMI_INIT_FAILED;
    }
    st = qmp_execute(q, "qmp_capabilities", NULL, NULL, timeout_ms, err, errlen);
    if (st != MICROVMI_OK) {
        qmp_close(q);
        return MICROVMI_INIT_FAILED;
    }
    *out = q;
    return MICROVMI_OK;
}

void qmp_close(struct qmp *q)
{
    if (!q)
        return;
    if (q->fd >= 0)
        close(q->fd);
    if (q->got_reply)
        json_object_put(q->reply.obj);
    if (q->async_done)
        json_object_put(q->async_reply.obj);
    qmp_lines_free(&q->lines);
    free(q);
}

int qmp_fd(const struct qmp *q) { return q ? q->fd : -1; }
bool qmp_is_closed(const struct qmp *q) { return q->closed; }

static bool write_all(int fd, const char *s, size_t len)
{
    while (len) {
        ssize_t n = send(fd, s, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd p = { .fd = fd, .events = POLLOUT };
            if (poll(&p, 1, 5000) <= 0)
                return false;
            continue;
        }
        if (n <= 0)
            return false;
        s += n;
        len -= (size_t)n;
    }
    return true;
}

/* Send {"execute": cmd, "arguments": args, "id": N}; args is consumed. */
static enum microvmi_status send_command(struct qmp *q, const char *cmd, json_object *args,
                                         long long *idp, char *err, size_t errlen)
{
    json_object *msg = json_object_new_object();
    if (!msg) {
        json_object_put(args);
        return MICROVMI_OUT_OF_MEMORY;
    }
    long long id = q->next_id++;
    json_object_object_add(msg, "execute", json_object_new_string(cmd));
    if (args)
        json_object_object_add(msg, "arguments", args);
    json_object_object_add(msg, "id", json_object_new_int64(id));
    const char *text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
    char *line = NULL;
    bool sent = text && asprintf(&line, "%s\n", text) > 0 && write_all(q->fd, line, strlen(line));
    free(line);
    json_object_put(msg);
    if (!sent) {
        q->closed = true;
        snprintf(err, errlen, "QMP %s: cannot send (%s): QEMU exited?", cmd, strerror(errno));
        return MICROVMI_VM_GONE;
    }
    *idp = id;
    return MICROVMI_OK;
}

enum microvmi_status qmp_execute(struct qmp *q, const char *cmd, json_object *args,
                                 json_object **ret, int timeout_ms, char *err, size_t errlen)
{
    if (ret)
        *ret = NULL;
    if (q->closed) {
        json_object_put(args);
        snprintf(err, errlen, "QMP connection is closed (QEMU exited?)");
        return MICROVMI_VM_GONE;
    }
    long long id;
    enum microvmi_status sent = send_command(q, cmd, args, &id, err, errlen);
    if (sent != MICROVMI_OK)
        return sent;
    q->want_id = id;
    q->got_reply = false;
    enum microvmi_status st = wait_for(q, have_reply, timeout_ms);
    q->want_id = -1;
    if (st != MICROVMI_OK) {
        snprintf(err, errlen, "QMP %s: %s", cmd,
                 st == MICROVMI_TIMEOUT ? "no reply in time (QEMU busy or hung?)"
                 : st == MICROVMI_VM_GONE ? "connection closed (QEMU exited?)"
                                          : microvmi_status_str(st));
        return st;
    }
    q->got_reply = false;
    if (q->reply.kind == QMP_MSG_ERROR) {
        snprintf(err, errlen, "QMP %s: %s", cmd, q->reply.error_desc);
        json_object_put(q->reply.obj);
        return MICROVMI_INVALID_ARG;
    }
    if (ret)
        *ret = json_object_get(q->reply.value);
    json_object_put(q->reply.obj);
    return MICROVMI_OK;
}

static json_object *hmp_args(const char *cmdline, int cpu_index)
{
    json_object *args = json_object_new_object();
    if (!args)
        return NULL;
    json_object_object_add(args, "command-line", json_object_new_string(cmdline));
    if (cpu_index >= 0)
        json_object_object_add(args, "cpu-index", json_object_new_int(cpu_index));
    return args;
}

static enum microvmi_status hmp_text(json_object *ret, char **out)
{
    const char *s = json_object_is_type(ret, json_type_string) ? json_object_get_string(ret) : "";
    *out = strdup(s);
    return *out ? MICROVMI_OK : MICROVMI_OUT_OF_MEMORY;
}

enum microvmi_status qmp_hmp(struct qmp *q, const char *cmdline, int cpu_index, char **out,
                             int timeout_ms, char *err, size_t errlen)
{
    *out = NULL;
    json_object *args = hmp_args(cmdline, cpu_index);
    if (!args)
        return MICROVMI_OUT_OF_MEMORY;
    json_object *ret = NULL;
    enum microvmi_status st =
        qmp_execute(q, "human-monitor-command", args, &ret, timeout_ms, err, errlen);
    if (st != MICROVMI_OK)
        return st;
    st = hmp_text(ret, out);
    json_object_put(ret);
    return st;
}

void qmp_hmp_cancel(struct qmp *q)
{
    if (q->async_done)
        json_object_put(q->async_reply.obj);
    q->async_done = false;
    q->async_id = -1;
}

enum microvmi_status qmp_hmp_begin(struct qmp *q, const char *cmdline, int cpu_index, char *err,
                                   size_t errlen)
{
    qmp_hmp_cancel(q);
    if (q->closed)
        return MICROVMI_VM_GONE;
    json_object *args = hmp_args(cmdline, cpu_index);
    if (!args)
        return MICROVMI_OUT_OF_MEMORY;
    long long id;
    enum microvmi_status st = send_command(q, "human-monitor-command", args, &id, err, errlen);
    if (st == MICROVMI_OK)
        q->async_id = id;
    return st;
}

bool qmp_hmp_pending(const struct qmp *q) { return q->async_id >= 0; }

static bool have_async(struct qmp *q) { return q->async_done; }

enum microvmi_status qmp_hmp_finish(struct qmp *q, char **out, int timeout_ms, char *err,
                                    size_t errlen)
{
    *out = NULL;
    if (q->async_id < 0) {
        snprintf(err, errlen, "no HMP command pending");
        return MICROVMI_INVALID_ARG;
    }
    enum microvmi_status st = wait_for(q, have_async, timeout_ms);
    if (st != MICROVMI_OK) {
        snprintf(err, errlen, "QMP human-monitor-command: %s", microvmi_status_str(st));
        qmp_hmp_cancel(q);
        return st;
    }
    if (q->async_reply.kind == QMP_MSG_ERROR) {
        snprintf(err, errlen, "QMP human-monitor-command: %s", q->async_reply.error_desc);
        st = MICROVMI_INVALID_ARG;
    } else {
        st = hmp_text(q->async_reply.value, out);
    }
    qmp_hmp_cancel(q);
    return st;
}

enum microvmi_status qmp_pump(struct qmp *q)
{
    if (q->closed)
        return MICROVMI_VM_GONE;
    qmp_lines_drain(&q->lines, on_line, q);
    for (;;) {
        struct pollfd p = { .fd = q->fd, .events = POLLIN };
        if (poll(&p, 1, 0) <= 0)
            return MICROVMI_OK;
        enum microvmi_status st = read_some(q);
        if (st != MICROVMI_OK)
            return st;
    }
}

const char *qmp_next_event(struct qmp *q)
{
    if (!q->ev_count)
        return NULL;
    memcpy(q->ev_out, q->events[q->ev_head], sizeof q->ev_out);
    q->ev_head = (q->ev_head + 1) % QMP_MAX_EVENTS;
    q->ev_count--;
    return q->ev_out;
}

bool qmp_has_events(const struct qmp *q) { return q->ev_count > 0; }
