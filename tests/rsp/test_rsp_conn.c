/* rsp_conn over a socketpair: acks, retransmit on '-', no-ack mode, bad
 * checksums, partial writes of big packets, early stop, hang-up. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "rsp.h"

struct fixture {
    int peer;             /* raw end the test writes/reads */
    struct rsp_conn *conn;
    int n;
    enum rsp_event_kind kind[32];
    char data[32][64];
    int stop_after;
};

static int setup_opts(void **state, const struct rsp_conn_options *o)
{
    struct fixture *f = calloc(1, sizeof *f);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    f->peer = sv[0];
    assert_int_equal(rsp_conn_new(sv[1], sv[1], o, &f->conn), RSP_OK);
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_opts(state, NULL); }

static int setup_small(void **state)
{
    struct rsp_conn_options o = {.max_payload = 16};
    return setup_opts(state, &o);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    rsp_conn_close(f->conn);
    if (f->peer >= 0)
        close(f->peer);
    free(f);
    return 0;
}

static int collect(void *ctx, const struct rsp_event *ev)
{
    struct fixture *f = ctx;
    assert_true(f->n < 32);
    f->kind[f->n] = ev->kind;
    snprintf(f->data[f->n], sizeof f->data[0], "%.*s", (int)ev->len,
             ev->data ? (const char *)ev->data : "");
    f->n++;
    return f->stop_after && f->n >= f->stop_after;
}

static void peer_write(struct fixture *f, const char *s)
{
    assert_int_equal(write(f->peer, s, strlen(s)), (ssize_t)strlen(s));
}

/* Everything the conn wrote, read with a short wait. */
static void peer_expect(struct fixture *f, const char *want)
{
    char got[256] = {0};
    size_t n = 0, len = strlen(want);
    while (n < len) {
        struct pollfd p = {.fd = f->peer, .events = POLLIN};
        assert_true(poll(&p, 1, 5000) == 1);
        ssize_t r = read(f->peer, got + n, sizeof got - 1 - n);
        assert_true(r > 0);
        n += (size_t)r;
    }
    assert_string_equal(got, want);
}

static void peer_expect_nothing(struct fixture *f)
{
    struct pollfd p = {.fd = f->peer, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 50), 0);
}

static void readable(struct fixture *f)
{
    struct pollfd p = {.fd = rsp_conn_fd(f->conn), .events = POLLIN};
    assert_true(poll(&p, 1, 5000) == 1);
    assert_int_equal(rsp_conn_on_readable(f->conn, collect, f), RSP_OK);
}

static void acks_and_retransmit(void **state)
{
    struct fixture *f = *state;
    peer_write(f, "$g#67");
    readable(f);
    assert_int_equal(f->n, 1);
    assert_int_equal(f->kind[0], RSP_EV_PACKET);
    assert_string_equal(f->data[0], "g");
    peer_expect(f, "+");
    assert_int_equal(rsp_conn_send_str(f->conn, "OK"), RSP_OK);
    peer_expect(f, "$OK#9a");
    peer_write(f, "-");
    readable(f);
    assert_int_equal(f->kind[1], RSP_EV_NAK);
    peer_expect(f, "$OK#9a"); /* sent again */
    peer_write(f, "+");
    readable(f);
    assert_int_equal(f->kind[2], RSP_EV_ACK);
    peer_expect_nothing(f);
    /* notifications are neither acked nor retransmitted */
    assert_int_equal(rsp_conn_send_notification(f->conn, "Stop:T05", 8), RSP_OK);
    peer_expect(f, "%Stop:T05#99");
    peer_write(f, "-");
    readable(f);
    peer_expect(f, "$OK#9a"); /* the last *packet* goes again */
    peer_write(f, "%Stop:T05#99\x03");
    readable(f);
    assert_int_equal(f->kind[4], RSP_EV_NOTIFICATION);
    assert_int_equal(f->kind[5], RSP_EV_INTERRUPT);
    peer_expect_nothing(f);
}

static void bad_checksum_nak_state_intact(void **state)
{
    struct fixture *f = *state;
    peer_write(f, "$m0,4#00");
    readable(f);
    assert_int_equal(f->kind[0], RSP_EV_BAD_CHECKSUM);
    peer_expect(f, "-");
    peer_write(f, "$OK#9a");
    readable(f);
    assert_int_equal(f->kind[1], RSP_EV_PACKET);
    assert_string_equal(f->data[1], "OK");
    peer_expect(f, "+");
}

static void noack_mode(void **state)
{
    struct fixture *f = *state;
    peer_write(f, "$QStartNoAckMode#b0");
    readable(f);
    assert_string_equal(f->data[0], "QStartNoAckMode");
    peer_expect(f, "+");
    assert_int_equal(rsp_conn_send_str(f->conn, "OK"), RSP_OK);
    rsp_conn_set_noack(f->conn, true);
    assert_true(rsp_conn_noack(f->conn));
    peer_expect(f, "$OK#9a");
    peer_write(f, "+$g#67$g#00");
    readable(f);
    assert_int_equal(f->n, 4);
    assert_int_equal(f->kind[1], RSP_EV_ACK);
    assert_int_equal(f->kind[2], RSP_EV_PACKET);
    assert_int_equal(f->kind[3], RSP_EV_BAD_CHECKSUM);
    peer_write(f, "-"); /* no retransmission either */
    readable(f);
    peer_expect_nothing(f);
}

static void oversized_acked_and_reported(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(rsp_conn_max_payload(f->conn), 16);
    peer_write(f, "$0123456789abcdefXYZ#00");
    readable(f);
    assert_int_equal(f->kind[0], RSP_EV_BAD_CHECKSUM);
    struct rsp_buf b = RSP_BUF_INIT;
    rsp_encode_packet(&b, "0123456789abcdefXYZ", 19);
    peer_write(f, (const char *)b.data);
    readable(f);
    assert_int_equal(f->kind[1], RSP_EV_OVERSIZED);
    peer_expect(f, "-+");
    rsp_buf_free(&b);
}

static void stop_and_dispatch(void **state)
{
    struct fixture *f = *state;
    f->stop_after = 1;
    peer_write(f, "$a#61$b#62$c#63");
    readable(f);
    assert_int_equal(f->n, 1);
    assert_true(rsp_conn_has_buffered_input(f->conn));
    f->stop_after = 0;
    assert_int_equal(rsp_conn_dispatch(f->conn, collect, f), RSP_OK);
    assert_int_equal(f->n, 3);
    assert_string_equal(f->data[2], "c");
    assert_false(rsp_conn_has_buffered_input(f->conn));
    assert_int_equal(rsp_conn_dispatch(f->conn, collect, f), RSP_ERR_AGAIN);
    peer_expect(f, "+++");
}

/* A 1 MiB hex reply through a small socket buffer: partial writes, poll for
 * POLLOUT, the peer decodes exactly the bytes sent. */
static void big_packet_partial_writes(void **state)
{
    struct fixture *f = *state;
    int small = 4096;
    setsockopt(rsp_conn_write_fd(f->conn), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    size_t len = 1 << 20;
    uint8_t *mem = malloc(len);
    for (size_t i = 0; i < len; i++)
        mem[i] = (uint8_t)(i * 7 + (i >> 9));
    struct rsp_buf *b = rsp_conn_begin_packet(f->conn);
    assert_non_null(b);
    assert_null(rsp_conn_begin_packet(f->conn)); /* one at a time */
    rsp_frame_put_hex(b, mem, len);
    assert_int_equal(rsp_conn_end_packet(f->conn, 0), RSP_OK);
    assert_true(rsp_conn_wants_write(f->conn));

    struct rsp_decoder d;
    assert_int_equal(rsp_decoder_init(&d, 2 * len), RSP_OK);
    struct fixture got = {0};
    fcntl(f->peer, F_SETFL, O_NONBLOCK);
    uint8_t chunk[65536];
    int rounds = 0;
    while (got.n == 0) {
        assert_true(++rounds < 100000);
        struct pollfd p = {.fd = rsp_conn_write_fd(f->conn), .events = POLLOUT};
        if (rsp_conn_wants_write(f->conn) && poll(&p, 1, 0) == 1)
            assert_int_equal(rsp_conn_on_writable(f->conn), RSP_OK);
        ssize_t r = read(f->peer, chunk, sizeof chunk);
        if (r > 0) {
            struct rsp_event last = {0};
            (void)last;
            rsp_decoder_feed(&d, chunk, (size_t)r, collect, &got);
        }
    }
    assert_int_equal(got.kind[0], RSP_EV_PACKET);
    assert_int_equal(d.len, 2 * len);
    uint8_t *back = malloc(len);
    assert_true(rsp_hex_decode(back, (const char *)d.buf, len));
    assert_memory_equal(back, mem, len);
    assert_false(rsp_conn_wants_write(f->conn));
    free(back);
    free(mem);
    rsp_decoder_fini(&d);
}

/* A peer that never reads cannot make us queue without bound. */
static void output_is_bounded(void **state)
{
    struct fixture *f = *state;
    rsp_conn_set_noack(f->conn, true);
    size_t len = 1 << 20;
    uint8_t *mem = calloc(1, len);
    enum rsp_status st = RSP_OK;
    int sent = 0;
    for (; sent < 100 && st == RSP_OK; sent++) {
        struct rsp_buf *b = rsp_conn_begin_packet(f->conn);
        assert_non_null(b);
        rsp_frame_put_hex(b, mem, len);
        st = rsp_conn_end_packet(f->conn, 0);
    }
    assert_int_equal(st, RSP_ERR_PROTOCOL);
    assert_true(sent > 30 && sent < 40);
    assert_non_null(strstr(rsp_conn_error(f->conn), "stopped reading"));
    free(mem);
}

static void hangup_is_closed(void **state)
{
    struct fixture *f = *state;
    peer_write(f, "$OK#9a");
    close(f->peer);
    f->peer = -1;
    struct pollfd p = {.fd = rsp_conn_fd(f->conn), .events = POLLIN};
    assert_true(poll(&p, 1, 5000) == 1);
    /* the packet before the hang-up is still delivered */
    assert_int_equal(rsp_conn_on_readable(f->conn, collect, f), RSP_ERR_CLOSED);
    assert_int_equal(f->n, 1);
    assert_string_equal(f->data[0], "OK");
    assert_non_null(strstr(rsp_conn_error(f->conn), "closed"));
    /* writing to a closed peer is an error, not SIGPIPE */
    enum rsp_status st = rsp_conn_send_str(f->conn, "OK");
    assert_true(st == RSP_ERR_CLOSED || st == RSP_ERR_IO);
}

/* stdio-like pipes: a reader that went away is CLOSED, not a SIGPIPE death. */
static void pipes_without_sigpipe(void **state)
{
    (void)state;
    int to_us[2], from_us[2];
    assert_int_equal(pipe(to_us), 0);
    assert_int_equal(pipe(from_us), 0);
    struct rsp_conn *c;
    assert_int_equal(rsp_conn_new(to_us[0], from_us[1], NULL, &c), RSP_OK);
    assert_int_equal(rsp_conn_fd(c), to_us[0]);
    assert_int_equal(rsp_conn_write_fd(c), from_us[1]);
    assert_int_equal(write(to_us[1], "$g#67", 5), 5);
    struct fixture f = {.conn = c};
    struct pollfd p = {.fd = to_us[0], .events = POLLIN};
    assert_int_equal(poll(&p, 1, 5000), 1);
    assert_int_equal(rsp_conn_on_readable(c, collect, &f), RSP_OK);
    assert_string_equal(f.data[0], "g");
    char buf[8];
    assert_int_equal(read(from_us[0], buf, sizeof buf), 1); /* the '+' */
    close(from_us[0]);
    assert_int_equal(rsp_conn_send_str(c, "OK"), RSP_ERR_CLOSED);
    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
    rsp_conn_close(c);
    close(to_us[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(acks_and_retransmit, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_checksum_nak_state_intact, setup, teardown),
        cmocka_unit_test_setup_teardown(noack_mode, setup, teardown),
        cmocka_unit_test_setup_teardown(oversized_acked_and_reported, setup_small, teardown),
        cmocka_unit_test_setup_teardown(stop_and_dispatch, setup, teardown),
        cmocka_unit_test_setup_teardown(big_packet_partial_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(output_is_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(hangup_is_closed, setup, teardown),
        cmocka_unit_test(pipes_without_sigpipe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
