/* libFuzzer target: the incremental decoder, fed the input in the splits the
 * input itself chooses, with a small payload bound so oversized paths run.
 * Every good packet is re-encoded and decoded again: it must round-trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rsp.h"

struct ctx {
    struct rsp_decoder *again;
    struct rsp_buf frame;
    size_t events;
};

static int check_same(void *c, const struct rsp_event *ev)
{
    const struct rsp_event *want = c;
    if (ev->kind != RSP_EV_PACKET || ev->len != want->len ||
        (ev->len && memcmp(ev->data, want->data, ev->len) != 0))
        abort();
    return 0;
}

static int on_event(void *c, const struct rsp_event *ev)
{
    struct ctx *x = c;
    x->events++;
    if (ev->kind == RSP_EV_PACKET) {
        if (ev->data[ev->len] != 0)
            abort();
        for (unsigned flags = 0; flags < 2; flags++) {
            rsp_buf_reset(&x->frame);
            rsp_frame_begin(&x->frame, '$');
            rsp_frame_put(&x->frame, ev->data, ev->len);
            if (rsp_frame_end(&x->frame, flags ? RSP_FRAME_RLE : 0) != RSP_OK)
                abort();
            struct rsp_event want = *ev;
            size_t n = rsp_decoder_feed(x->again, x->frame.data, x->frame.len, check_same, &want);
            if (n != x->frame.len)
                abort();
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* first byte: split step (1..256) */
    size_t step = (size_t)data[0] + 1;
    data++;
    size--;
    struct rsp_decoder d, again;
    if (rsp_decoder_init(&d, 64) != RSP_OK || rsp_decoder_init(&again, 64) != RSP_OK)
        abort();
    struct ctx x = {.again = &again};
    for (size_t off = 0; off < size; off += step) {
        size_t n = size - off < step ? size - off : step;
        if (rsp_decoder_feed(&d, data + off, n, on_event, &x) != n)
            abort();
        if (d.len > d.max_payload)
            abort();
    }
    rsp_buf_free(&x.frame);
    rsp_decoder_fini(&d);
    rsp_decoder_fini(&again);
    return 0;
}
