/* libFuzzer target: an rsp_conn (ack mode, small payload bound) fed
 * arbitrary bytes by its peer through a socketpair. The callback answers
 * every packet (so '-' retransmissions and acks interleave with replies),
 * switches to no-ack mode on request, and may stop early (dispatch path).
 * Nothing may crash, leak, or loop forever. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rsp.h"

struct ctx {
    struct rsp_conn *c;
    unsigned events;
    uint8_t stop_every;
};

static int on_event(void *p, const struct rsp_event *ev)
{
    struct ctx *x = p;
    x->events++;
    if (ev->kind == RSP_EV_PACKET) {
        if (rsp_has_prefix(ev->data, ev->len, "QStartNoAckMode")) {
            rsp_conn_send_str(x->c, "OK");
            rsp_conn_set_noack(x->c, true);
        } else if (ev->len && ev->data[0] == 'm') {
            struct rsp_buf *b = rsp_conn_begin_packet(x->c);
            if (b) {
                rsp_frame_put_hex(b, ev->data, ev->len);
                rsp_conn_end_packet(x->c, ev->len & 1 ? RSP_FRAME_RLE : 0);
            }
        } else {
            rsp_conn_send_packet(x->c, ev->data, ev->len);
        }
    } else if (ev->kind == RSP_EV_NOTIFICATION) {
        rsp_conn_send_notification(x->c, ev->data, ev->len);
    } else if (ev->kind == RSP_EV_OVERSIZED || ev->kind == RSP_EV_MALFORMED) {
        rsp_conn_send_str(x->c, "E01");
    }
    return x->stop_every && x->events % x->stop_every == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 16384)
        return 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return 0;
    struct rsp_conn_options o = {.max_payload = 48};
    struct ctx x = {.stop_every = data[0] & 3};
    if (rsp_conn_new(sv[1], sv[1], &o, &x.c) != RSP_OK)
        abort();
    if (write(sv[0], data + 1, size - 1) != (ssize_t)(size - 1))
        abort();
    shutdown(sv[0], SHUT_WR);
    uint8_t sink[65536];
    for (int round = 0; round < 100000; round++) {
        enum rsp_status st = rsp_conn_on_readable(x.c, on_event, &x);
        while (rsp_conn_has_buffered_input(x.c) && st == RSP_OK)
            st = rsp_conn_dispatch(x.c, on_event, &x);
        while (recv(sv[0], sink, sizeof sink, MSG_DONTWAIT) > 0) {
        }
        if (st == RSP_OK)
            st = rsp_conn_on_writable(x.c);
        if (st != RSP_OK)
            break;
        if (round == 99999)
            abort(); /* must have seen the end of input long ago */
    }
    rsp_conn_close(x.c);
    close(sv[0]);
    return 0;
}
