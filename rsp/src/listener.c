/* Server side: listen on TCP, a unix socket or stdio; one client at a time. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net.h"
#include "rsp_internal.h"

struct rsp_listener {
    struct rsp_spec spec;
    int fd;           /* -1 for stdio */
    bool stdio_taken; /* stdio has exactly one client */
    int port;
    char address[300];
};

enum rsp_status rsp_listen(const char *spec, struct rsp_listener **out, char *err, size_t errlen)
{
    *out = NULL;
    struct rsp_listener *l = calloc(1, sizeof *l);
    if (!l)
        return RSP_ERR_NO_MEMORY;
    enum rsp_status st = rsp_spec_parse(spec, &l->spec, err, errlen);
    if (st != RSP_OK) {
        free(l);
        return st;
    }
    l->fd = -1;
    if (l->spec.kind == RSP_SPEC_STDIO) {
        snprintf(l->address, sizeof l->address, "stdio");
    } else {
        l->fd = rsp_net_listen(&l->spec, err, errlen);
        if (l->fd < 0) {
            free(l);
            return RSP_ERR_IO;
        }
        if (l->spec.kind == RSP_SPEC_UNIX)
            snprintf(l->address, sizeof l->address, "unix:%s", l->spec.path);
        else
            l->port = rsp_net_describe(l->fd, l->address, sizeof l->address);
    }
    *out = l;
    return RSP_OK;
}

void rsp_listener_close(struct rsp_listener *l)
{
    if (!l)
        return;
    if (l->fd >= 0) {
        close(l->fd);
        if (l->spec.kind == RSP_SPEC_UNIX)
            unlink(l->spec.path);
    }
    free(l);
}

int rsp_listener_fd(const struct rsp_listener *l) { return l->fd; }
const char *rsp_listener_address(const struct rsp_listener *l) { return l->address; }
int rsp_listener_port(const struct rsp_listener *l) { return l->port; }

static int accept_fd(struct rsp_listener *l, char *err, size_t errlen, enum rsp_status *st)
{
    for (;;) {
        int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            rsp_net_nodelay(fd);
            return fd;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            *st = RSP_ERR_AGAIN;
            return -1;
        }
        rsp_set_err(err, errlen, "accept on %s: %s", l->address, strerror(errno));
        *st = RSP_ERR_IO;
        return -1;
    }
}

enum rsp_status rsp_listener_accept(struct rsp_listener *l, const struct rsp_conn_options *opts,
                                    struct rsp_conn **out, char *err, size_t errlen)
{
    *out = NULL;
    struct rsp_conn_options o = {0};
    if (opts)
        o = *opts;
    if (l->spec.kind == RSP_SPEC_STDIO) {
        if (l->stdio_taken)
            return RSP_ERR_AGAIN;
        o.keep_fds_open = true;
        enum rsp_status st = rsp_conn_new(0, 1, &o, out);
        if (st != RSP_OK)
            rsp_set_err(err, errlen, "stdio connection: %s", rsp_status_str(st));
        else
            l->stdio_taken = true;
        return st;
    }
    enum rsp_status st = RSP_OK;
    int fd = accept_fd(l, err, errlen, &st);
    if (fd < 0)
        return st;
    st = rsp_conn_new(fd, fd, &o, out);
    if (st != RSP_OK) {
        rsp_set_err(err, errlen, "new connection: %s", rsp_status_str(st));
        close(fd);
    }
    return st;
}

enum rsp_status rsp_listener_refuse(struct rsp_listener *l, const char *reason)
{
    if (l->fd < 0)
        return RSP_ERR_AGAIN;
    enum rsp_status st = RSP_OK;
    int fd = accept_fd(l, NULL, 0, &st);
    if (fd < 0)
        return st;
    struct rsp_buf b = RSP_BUF_INIT;
    rsp_frame_begin(&b, '$');
    rsp_frame_put_str(&b, "E.");
    rsp_frame_put_str(&b, reason && *reason ? reason : "another debugger is already attached");
    if (rsp_frame_end(&b, 0) == RSP_OK) {
        /* Best effort on a fresh socket: the buffer is empty, so this fits. */
        ssize_t n = send(fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)n;
    }
    rsp_buf_free(&b);
    shutdown(fd, SHUT_WR);
    close(fd);
    return RSP_OK;
}
