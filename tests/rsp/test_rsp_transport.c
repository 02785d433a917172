/* Listener and client end to end: TCP (v4, v6), unix socket and stdio;
 * request/reply, no-ack negotiation, interrupts, notifications, timeouts,
 * a second client refused while the first session goes on, bad specs. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rsp.h"

/* ---- a tiny server used by the tests ------------------------------------
 * "QStartNoAckMode" -> OK then no acks; "c" -> nothing until 0x03, then
 * "T02"; "notify" -> a %Stop notification then "OK"; "big" -> 100000 bytes
 * as hex; anything else is echoed back. */
struct server {
    struct rsp_listener *l;
    struct rsp_conn *conn;
    int stop_pipe[2];
    bool running; /* a 'c' is pending */
    bool one_session; /* stdio: end when the session ends */
    pthread_t thread;
};

static int serve_event(void *ctx, const struct rsp_event *ev)
{
    struct server *s = ctx;
    struct rsp_conn *c = s->conn;
    if (ev->kind == RSP_EV_INTERRUPT && s->running) {
        s->running = false;
        rsp_conn_send_str(c, "T02");
    }
    if (ev->kind == RSP_EV_OVERSIZED)
        rsp_conn_send_str(c, "E01");
    if (ev->kind != RSP_EV_PACKET)
        return 0;
    if (rsp_has_prefix(ev->data, ev->len, "QStartNoAckMode")) {
        rsp_conn_send_str(c, "OK");
        rsp_conn_set_noack(c, true);
    } else if (ev->len == 1 && ev->data[0] == 'c') {
        s->running = true;
    } else if (rsp_has_prefix(ev->data, ev->len, "notify")) {
        rsp_conn_send_notification(c, "Stop:T05", 8);
        rsp_conn_send_str(c, "OK");
    } else if (rsp_has_prefix(ev->data, ev->len, "two")) {
        rsp_conn_send_str(c, "A");
        rsp_conn_send_str(c, "B");
    } else if (rsp_has_prefix(ev->data, ev->len, "big")) {
        static uint8_t mem[100000];
        for (size_t i = 0; i < sizeof mem; i++)
            mem[i] = (uint8_t)i;
        struct rsp_buf *b = rsp_conn_begin_packet(c);
        rsp_frame_put_hex(b, mem, sizeof mem);
        rsp_conn_end_packet(c, 0);
    } else {
        rsp_conn_send_packet(c, ev->data, ev->len);
    }
    return 0;
}

static void *serve(void *arg)
{
    struct server *s = arg;
    for (;;) {
        struct pollfd p[4];
        int n = 0;
        p[n++] = (struct pollfd){.fd = s->stop_pipe[0], .events = POLLIN};
        p[n++] = (struct pollfd){.fd = rsp_listener_fd(s->l), .events = POLLIN};
        if (s->conn) {
            p[n++] = (struct pollfd){.fd = rsp_conn_fd(s->conn), .events = POLLIN};
            if (rsp_conn_wants_write(s->conn))
                p[n++] = (struct pollfd){.fd = rsp_conn_write_fd(s->conn), .events = POLLOUT};
        }
        if (!s->conn) {
            char err[200];
            if (rsp_listener_accept(s->l, NULL, &s->conn, err, sizeof err) == RSP_OK)
                continue;
        }
        if (poll(p, (nfds_t)n, -1) < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            break;
        /* The session first: a client that just left frees the place. */
        if (s->conn) {
            enum rsp_status st = rsp_conn_on_readable(s->conn, serve_event, s);
            if (st == RSP_OK)
                st = rsp_conn_on_writable(s->conn);
            if (st != RSP_OK && st != RSP_ERR_AGAIN) {
                rsp_conn_close(s->conn);
                s->conn = NULL;
                s->running = false;
                if (s->one_session)
                    break;
            }
        }
        if ((p[1].revents & POLLIN) && s->conn)
            rsp_listener_refuse(s->l, "busy: another gdb is attached");
    }
    rsp_conn_close(s->conn);
    s->conn = NULL;
    return NULL;
}

static struct server *server_start(const char *spec)
{
    struct server *s = calloc(1, sizeof *s);
    char err[256];
    enum rsp_status st = rsp_listen(spec, &s->l, err, sizeof err);
    if (st != RSP_OK) {
        free(s);
        return NULL;
    }
    assert_int_equal(pipe(s->stop_pipe), 0);
    assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
    return s;
}

static void server_stop(struct server *s)
{
    assert_int_equal(write(s->stop_pipe[1], "x", 1), 1);
    pthread_join(s->thread, NULL);
    close(s->stop_pipe[0]);
    close(s->stop_pipe[1]);
    rsp_listener_close(s->l);
    free(s);
}

/* ---- a session every transport must pass ------------------------------- */

static void session(struct rsp_client *cli)
{
    struct rsp_buf r = RSP_BUF_INIT;
    /* echo, binary-safe */
    assert_int_equal(rsp_client_request(cli, "X0,4:#$}*", 9, &r, 5000), RSP_OK);
    assert_int_equal(r.len, 9);
    assert_memory_equal(r.data, "X0,4:#$}*", 9);
    /* a notification arrives before the reply; it is queued */
    assert_int_equal(rsp_client_request_str(cli, "notify", &r, 5000), RSP_OK);
    assert_string_equal((char *)r.data, "OK");
    assert_true(rsp_client_pending(cli));
    assert_int_equal(rsp_client_next_notification(cli, &r), RSP_OK);
    assert_string_equal((char *)r.data, "Stop:T05");
    assert_int_equal(rsp_client_next_notification(cli, &r), RSP_ERR_AGAIN);
    assert_false(rsp_client_pending(cli));
    /* two replies to one request: the second is kept, in order */
    assert_int_equal(rsp_client_request_str(cli, "two", &r, 5000), RSP_OK);
    assert_string_equal((char *)r.data, "A");
    assert_int_equal(rsp_client_wait_stop(cli, &r, 5000), RSP_OK);
    assert_string_equal((char *)r.data, "B");
    assert_false(rsp_client_pending(cli));
    /* no-ack negotiation, then more traffic */
    bool on = false;
    assert_int_equal(rsp_client_start_noack(cli, 5000, &on), RSP_OK);
    assert_true(on);
    assert_true(rsp_conn_noack(rsp_client_conn(cli)));
    assert_int_equal(rsp_client_request_str(cli, "qC", &r, 5000), RSP_OK);
    assert_string_equal((char *)r.data, "qC");
    /* a big reply */
    assert_int_equal(rsp_client_request_str(cli, "big", &r, 5000), RSP_OK);
    assert_int_equal(r.len, 200000);
    assert_memory_equal(r.data, "000102", 6);
    /* continue: nothing until the interrupt, then the stop reply */
    assert_int_equal(rsp_client_send(cli, "c", 1), RSP_OK);
    assert_int_equal(rsp_client_wait_stop(cli, &r, 0), RSP_ERR_TIMEOUT);
    assert_int_equal(rsp_client_wait_stop(cli, &r, 100), RSP_ERR_TIMEOUT);
    assert_int_equal(rsp_client_interrupt(cli), RSP_OK);
    assert_int_equal(rsp_client_wait_stop(cli, &r, 5000), RSP_OK);
    assert_string_equal((char *)r.data, "T02");
    rsp_buf_free(&r);
}

static void tcp_v4_session_and_refusal(void **state)
{
    (void)state;
    struct server *s = server_start("127.0.0.1:0");
    assert_non_null(s);
    const char *addr = rsp_listener_address(s->l);
    assert_true(strncmp(addr, "127.0.0.1:", 10) == 0);
    assert_true(rsp_listener_port(s->l) > 0);
    char err[256] = "";
    struct rsp_client *cli = NULL, *second = NULL;
    assert_int_equal(rsp_client_connect(addr, 5000, NULL, &cli, err, sizeof err), RSP_OK);
    struct rsp_buf r = RSP_BUF_INIT;
    assert_int_equal(rsp_client_request_str(cli, "qSupported", &r, 5000), RSP_OK);
    /* a second client is turned away cleanly... */
    assert_int_equal(rsp_client_connect(addr, 5000, NULL, &second, err, sizeof err), RSP_OK);
    enum rsp_status st = rsp_client_request_str(second, "qSupported", &r, 5000);
    if (st == RSP_OK)
        assert_true(rsp_has_prefix(r.data, r.len, "E.busy"));
    else
        assert_int_equal(st, RSP_ERR_CLOSED);
    rsp_client_close(second);
    /* ...and the first session is untouched */
    session(cli);
    rsp_client_close(cli);
    /* after the first leaves, a new client is served */
    assert_int_equal(rsp_client_connect(addr, 5000, NULL, &cli, err, sizeof err), RSP_OK);
    assert_int_equal(rsp_client_request_str(cli, "again", &r, 5000), RSP_OK);
    assert_string_equal((char *)r.data, "again");
    rsp_client_close(cli);
    rsp_buf_free(&r);
    server_stop(s);
}

static void tcp_default_host_and_v6(void **state)
{
    (void)state;
    struct rsp_listener *l = NULL;
    char err[256];
    assert_int_equal(rsp_listen(":0", &l, err, sizeof err), RSP_OK);
    assert_true(strncmp(rsp_listener_address(l), "127.0.0.1:", 10) == 0);
    rsp_listener_close(l);
    assert_int_equal(rsp_listen("0", &l, err, sizeof err), RSP_OK);
    assert_true(strncmp(rsp_listener_address(l), "127.0.0.1:", 10) == 0);
    rsp_listener_close(l);
    /* all interfaces only when asked; a loopback client reaches it */
    assert_int_equal(rsp_listen("0.0.0.0:0", &l, err, sizeof err), RSP_OK);
    assert_true(strncmp(rsp_listener_address(l), "0.0.0.0:", 8) == 0);
    /* nobody waiting: accept and refuse say so, without blocking */
    struct rsp_conn *c;
    assert_int_equal(rsp_listener_accept(l, NULL, &c, err, sizeof err), RSP_ERR_AGAIN);
    assert_int_equal(rsp_listener_refuse(l, NULL), RSP_ERR_AGAIN);
    char local[64];
    snprintf(local, sizeof local, "localhost:%d", rsp_listener_port(l));
    struct rsp_client *lc = NULL;
    assert_int_equal(rsp_client_connect(local, 5000, NULL, &lc, err, sizeof err), RSP_OK);
    struct pollfd pl = {.fd = rsp_listener_fd(l), .events = POLLIN};
    assert_int_equal(poll(&pl, 1, 5000), 1);
    assert_int_equal(rsp_listener_accept(l, NULL, &c, err, sizeof err), RSP_OK);
    assert_int_equal(rsp_client_send(lc, "ping", 4), RSP_OK);
    rsp_client_close(lc);
    rsp_conn_close(c);
    rsp_listener_close(l);

    struct server *s = server_start("[::1]:0");
    if (!s) {
        print_message("IPv6 loopback unavailable here; v6 part not run\n");
        return;
    }
    const char *addr = rsp_listener_address(s->l);
    assert_true(strncmp(addr, "[::1]:", 6) == 0);
    struct rsp_client *cli;
    assert_int_equal(rsp_client_connect(addr, 5000, NULL, &cli, err, sizeof err), RSP_OK);
    session(cli);
    rsp_client_close(cli);
    server_stop(s);
}

static void unix_socket(void **state)
{
    (void)state;
    char spec[128];
    snprintf(spec, sizeof spec, "unix:/tmp/rsp-test-%d.sock", (int)getpid());
    struct server *s = server_start(spec);
    assert_non_null(s);
    assert_string_equal(rsp_listener_address(s->l), spec);
    /* a second listener on a live socket is refused, not stolen */
    struct rsp_listener *l2;
    char err[256];
    assert_int_equal(rsp_listen(spec, &l2, err, sizeof err), RSP_ERR_IO);
    assert_non_null(strstr(err, "another server"));
    struct rsp_client *cli;
    assert_int_equal(rsp_client_connect(spec, 5000, NULL, &cli, err, sizeof err), RSP_OK);
    session(cli);
    rsp_client_close(cli);
    server_stop(s);
    assert_int_equal(access(spec + 5, F_OK), -1); /* socket file removed */
}

static void stdio_transport(void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* the stub side: stdin/stdout are the pipe to "gdb" */
        dup2(sv[1], 0);
        dup2(sv[1], 1);
        close(sv[0]);
        close(sv[1]);
        struct server s = {.one_session = true};
        char err[256];
        if (rsp_listen("stdio", &s.l, err, sizeof err) != RSP_OK ||
            strcmp(rsp_listener_address(s.l), "stdio") != 0 || pipe(s.stop_pipe) != 0)
            _exit(2);
        struct rsp_conn *c;
        if (rsp_listener_accept(s.l, NULL, &c, err, sizeof err) != RSP_OK)
            _exit(3);
        struct rsp_conn *again;
        if (rsp_listener_accept(s.l, NULL, &again, err, sizeof err) != RSP_ERR_AGAIN)
            _exit(4);
        s.conn = c;
        serve(&s);
        rsp_listener_close(s.l);
        _exit(0);
    }
    close(sv[1]);
    struct rsp_client *cli;
    assert_int_equal(rsp_client_from_fds(sv[0], sv[0], NULL, &cli), RSP_OK);
    session(cli);
    rsp_client_close(cli);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void bad_specs_and_connect_errors(void **state)
{
    (void)state;
    const char *bad[] = {"", "abc", "1:2:3", "[::1", "[::1]", "[]:1", "127.0.0.1:99999",
                         "127.0.0.1:", "host:12a", "unix:", "999999"};
    char err[256];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct rsp_listener *l = (struct rsp_listener *)1;
        err[0] = 0;
        assert_int_equal(rsp_listen(bad[i], &l, err, sizeof err), RSP_ERR_INVALID_ARG);
        assert_null(l);
        assert_true(strlen(err) > 10);
    }
    char longpath[300] = "unix:/tmp/";
    memset(longpath + 10, 'a', 200);
    longpath[210] = 0;
    struct rsp_listener *l;
    assert_int_equal(rsp_listen(longpath, &l, err, sizeof err), RSP_ERR_INVALID_ARG);
    assert_int_equal(rsp_listen("no.such.host.invalid:1", &l, err, sizeof err), RSP_ERR_IO);
    /* connecting to a port nobody listens on: a clear error, quickly */
    assert_int_equal(rsp_listen("127.0.0.1:0", &l, err, sizeof err), RSP_OK);
    char addr[64];
    snprintf(addr, sizeof addr, "%s", rsp_listener_address(l));
    rsp_listener_close(l);
    struct rsp_client *cli = NULL;
    assert_int_equal(rsp_client_connect(addr, 2000, NULL, &cli, err, sizeof err), RSP_ERR_IO);
    assert_null(cli);
    assert_non_null(strstr(err, "refused"));
    assert_int_equal(rsp_client_connect("stdio", 1000, NULL, &cli, err, sizeof err),
                     RSP_ERR_INVALID_ARG);
    assert_int_equal(rsp_client_connect("unix:/nonexistent/x", 1000, NULL, &cli, err, sizeof err),
                     RSP_ERR_IO);
}

/* A reply bigger than the client's bound is reported, not overflowed; the
 * connection stays usable. */
static void client_reply_too_big(void **state)
{
    (void)state;
    struct server *s = server_start("127.0.0.1:0");
    assert_non_null(s);
    char err[256];
    struct rsp_conn_options o = {.max_payload = 1000};
    struct rsp_client *cli;
    assert_int_equal(rsp_client_connect(rsp_listener_address(s->l), 5000, &o, &cli, err,
                                        sizeof err), RSP_OK);
    struct rsp_buf r = RSP_BUF_INIT;
    assert_int_equal(rsp_client_request_str(cli, "big", &r, 5000), RSP_ERR_TOO_BIG);
    assert_non_null(strstr(rsp_client_error(cli), "max_payload"));
    assert_int_equal(rsp_client_request_str(cli, "ok", &r, 5000), RSP_OK);
    assert_string_equal((char *)r.data, "ok");
    rsp_buf_free(&r);
    rsp_client_close(cli);
    server_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tcp_v4_session_and_refusal),
        cmocka_unit_test(tcp_default_host_and_v6),
        cmocka_unit_test(unix_socket),
        cmocka_unit_test(stdio_transport),
        cmocka_unit_test(bad_specs_and_connect_errors),
        cmocka_unit_test(client_reply_too_big),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
