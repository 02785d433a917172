/* A minimal RSP target built only on rsp/, for interop tests with real gdb:
 * 2 MiB of memory (byte at a = (7a + (a >> 8)) & 0xff), one thread,
 * registers all zero, m/M/X, qRcmd, no-ack mode, detach.
 *   rsp_fake_target SPEC      (SPEC as for rsp_listen: stdio, 127.0.0.1:0, unix:PATH)
 * For sockets it prints "listening on ADDR" on stderr and serves one client.
 *   rsp_fake_target --pattern N   writes the first N bytes of that memory to stdout */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp.h"

#define MEM_SIZE (2u << 20)

struct target {
    struct rsp_conn *conn;
    uint8_t *mem;
    bool done;
};

static uint8_t pattern(size_t a)
{
    return (uint8_t)(7 * a + (a >> 8));
}

static bool parse_addr_len(const char **p, const char *end, uint64_t *addr, uint64_t *len)
{
    return rsp_parse_hex_u64(p, end, addr) && rsp_parse_expect(p, end, ',') &&
           rsp_parse_hex_u64(p, end, len) && *addr <= MEM_SIZE && *len <= MEM_SIZE - *addr;
}

static void handle(struct target *t, const char *pkt, size_t n)
{
    struct rsp_conn *c = t->conn;
    const char *end = pkt + n, *p = pkt + 1;
    uint64_t addr, len;
    if (rsp_has_prefix(pkt, n, "qSupported")) {
        rsp_conn_send_str(c, "PacketSize=3ff00;QStartNoAckMode+");
    } else if (rsp_has_prefix(pkt, n, "QStartNoAckMode")) {
        rsp_conn_send_str(c, "OK");
        rsp_conn_set_noack(c, true);
        fprintf(stderr, "rsp_fake_target: no-ack mode\n"); /* checked by gdb-interop.sh */
    } else if (n == 1 && pkt[0] == '?') {
        rsp_conn_send_str(c, "S05");
    } else if (n == 1 && pkt[0] == 'g') {
        static const uint8_t regs[164];
        struct rsp_buf *b = rsp_conn_begin_packet(c);
        rsp_frame_put_hex(b, regs, sizeof regs);
        rsp_conn_end_packet(c, 0);
    } else if (pkt[0] == 'm' && parse_addr_len(&p, end, &addr, &len) && p == end) {
        struct rsp_buf *b = rsp_conn_begin_packet(c);
        rsp_frame_put_hex(b, t->mem + addr, len);
        rsp_conn_end_packet(c, 0);
    } else if (pkt[0] == 'M' && parse_addr_len(&p, end, &addr, &len) &&
               rsp_parse_expect(&p, end, ':') && (size_t)(end - p) == 2 * len &&
               rsp_hex_decode(t->mem + addr, p, len)) {
        rsp_conn_send_str(c, "OK");
    } else if (pkt[0] == 'X' && parse_addr_len(&p, end, &addr, &len) &&
               rsp_parse_expect(&p, end, ':') && (size_t)(end - p) == len) {
        memcpy(t->mem + addr, p, len); /* the decoder already unescaped it */
        rsp_conn_send_str(c, "OK");
    } else if (rsp_has_prefix(pkt, n, "qRcmd,")) {
        const char *text = "hello from rsp_fake_target\n";
        struct rsp_buf *b = rsp_conn_begin_packet(c);
        rsp_frame_put_char(b, 'O');
        rsp_frame_put_hex(b, text, strlen(text));
        rsp_conn_end_packet(c, 0);
        rsp_conn_send_str(c, "OK");
    } else if (rsp_has_prefix(pkt, n, "qAttached")) {
        rsp_conn_send_str(c, "1");
    } else if (rsp_has_prefix(pkt, n, "qfThreadInfo")) {
        rsp_conn_send_str(c, "m1");
    } else if (rsp_has_prefix(pkt, n, "qsThreadInfo")) {
        rsp_conn_send_str(c, "l");
    } else if (rsp_has_prefix(pkt, n, "qC")) {
        rsp_conn_send_str(c, "QC1");
    } else if (pkt[0] == 'H' || pkt[0] == 'T') {
        rsp_conn_send_str(c, "OK");
    } else if (pkt[0] == 'D') {
        rsp_conn_send_str(c, "OK");
        t->done = true;
    } else if (pkt[0] == 'k') {
        t->done = true;
    } else if (pkt[0] == 'm' || pkt[0] == 'M' || pkt[0] == 'X') {
        rsp_conn_send_str(c, "E01");
    } else {
        rsp_conn_send_str(c, ""); /* unsupported */
    }
}

static int on_event(void *ctx, const struct rsp_event *ev)
{
    struct target *t = ctx;
    if (ev->kind == RSP_EV_PACKET)
        handle(t, (const char *)ev->data, ev->len);
    else if (ev->kind == RSP_EV_OVERSIZED || ev->kind == RSP_EV_MALFORMED)
        rsp_conn_send_str(t->conn, "E02");
    else if (ev->kind == RSP_EV_INTERRUPT)
        rsp_conn_send_str(t->conn, "S02");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--pattern") == 0) {
        size_t n = strtoul(argv[2], NULL, 0);
        for (size_t a = 0; a < n; a++)
            putchar(pattern(a));
        return fflush(stdout) == 0 ? 0 : 1;
    }
    if (argc != 2) {
        fprintf(stderr, "usage: rsp_fake_target SPEC | --pattern BYTES\n");
        return 2;
    }
    struct target t = {.mem = malloc(MEM_SIZE)};
    if (!t.mem)
        return 1;
    for (size_t a = 0; a < MEM_SIZE; a++)
        t.mem[a] = pattern(a);
    char err[256];
    struct rsp_listener *l;
    if (rsp_listen(argv[1], &l, err, sizeof err) != RSP_OK) {
        fprintf(stderr, "rsp_fake_target: %s\n", err);
        return 1;
    }
    if (rsp_listener_fd(l) >= 0) {
        fprintf(stderr, "listening on %s\n", rsp_listener_address(l));
        struct pollfd p = {.fd = rsp_listener_fd(l), .events = POLLIN};
        poll(&p, 1, 30000);
    }
    if (rsp_listener_accept(l, NULL, &t.conn, err, sizeof err) != RSP_OK) {
        fprintf(stderr, "rsp_fake_target: no client: %s\n", err);
        return 1;
    }
    int status = 0;
    while (!t.done) {
        struct pollfd p[2] = {{.fd = rsp_conn_fd(t.conn), .events = POLLIN},
                              {.fd = rsp_conn_write_fd(t.conn), .events = POLLOUT}};
        if (poll(p, rsp_conn_wants_write(t.conn) ? 2 : 1, 30000) <= 0) {
            status = 1;
            break;
        }
        enum rsp_status st = rsp_conn_on_readable(t.conn, on_event, &t);
        if (st == RSP_OK)
            st = rsp_conn_on_writable(t.conn);
        if (st != RSP_OK) {
            if (st != RSP_ERR_CLOSED) {
                fprintf(stderr, "rsp_fake_target: %s\n", rsp_conn_error(t.conn));
                status = 1;
            }
            break;
        }
    }
    rsp_conn_flush(t.conn, 2000);
    rsp_conn_close(t.conn);
    rsp_listener_close(l);
    free(t.mem);
    return status;
}
