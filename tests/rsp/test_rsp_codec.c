/* Framing, escapes, run-length, split feeding, oversized/truncated/bad
 * packets: the decoder and the frame builder of rsp/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rsp.h"

/* Events collected from the decoder, payloads flattened into one buffer. */
struct log {
    int n;
    enum rsp_event_kind kind[64];
    size_t len[64];
    size_t off[64];
    struct rsp_buf data;
    int stop_after; /* return nonzero after this many events (0 = never) */
};

static int collect(void *ctx, const struct rsp_event *ev)
{
    struct log *l = ctx;
    assert_true(l->n < 64);
    l->kind[l->n] = ev->kind;
    l->len[l->n] = ev->len;
    l->off[l->n] = l->data.len;
    if (ev->data) {
        assert_int_equal(ev->data[ev->len], 0); /* NUL after payload */
        rsp_buf_append(&l->data, ev->data, ev->len);
    }
    l->n++;
    return l->stop_after && l->n >= l->stop_after;
}

static const uint8_t *payload(struct log *l, int i) { return l->data.data + l->off[i]; }

static void feed_str(struct rsp_decoder *d, const char *s, struct log *l)
{
    assert_int_equal(rsp_decoder_feed(d, s, strlen(s), collect, l), strlen(s));
}

static void expect_packet(struct log *l, int i, const char *text)
{
    assert_true(i < l->n);
    assert_int_equal(l->kind[i], RSP_EV_PACKET);
    assert_int_equal(l->len[i], strlen(text));
    assert_memory_equal(payload(l, i), text, strlen(text));
}

static void manual_examples(void **state)
{
    (void)state;
    struct rsp_decoder d;
    assert_int_equal(rsp_decoder_init(&d, 0), RSP_OK);
    struct log l = {0};
    /* The manual's framing examples: a packet, its ack, a reply with acks
     * around it, and run-length "0* " = "0000". */
    feed_str(&d, "+$OK#9a-$g#67+$0* #7a", &l);
    assert_int_equal(l.n, 6);
    assert_int_equal(l.kind[0], RSP_EV_ACK);
    expect_packet(&l, 1, "OK");
    assert_int_equal(l.kind[2], RSP_EV_NAK);
    expect_packet(&l, 3, "g");
    assert_int_equal(l.kind[4], RSP_EV_ACK);
    expect_packet(&l, 5, "0000");
    rsp_buf_free(&l.data);
    rsp_decoder_fini(&d);
}

static void interrupt_notification_noise(void **state)
{
    (void)state;
    struct rsp_decoder d;
    assert_int_equal(rsp_decoder_init(&d, 64), RSP_OK);
    struct log l = {0};
    struct rsp_buf b = RSP_BUF_INIT;
    rsp_frame_begin(&b, '%');
    rsp_frame_put_str(&b, "Stop:T05thread:1;");
    assert_int_equal(rsp_frame_end(&b, 0), RSP_OK);
    rsp_buf_append(&b, "\x03garbage\r\n", 10);
    feed_str(&d, (const char *)b.data, &l);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.kind[0], RSP_EV_NOTIFICATION);
    assert_memory_equal(payload(&l, 0), "Stop:T05thread:1;", 17);
    assert_int_equal(l.kind[1], RSP_EV_INTERRUPT);
    /* '$' inside a frame restarts it, as gdb does */
    feed_str(&d, "$abc$OK#9a", &l);
    assert_int_equal(l.n, 3);
    expect_packet(&l, 2, "OK");
    rsp_buf_free(&b);
    rsp_buf_free(&l.data);
    rsp_decoder_fini(&d);
}

static void escapes_decode(void **state)
{
    (void)state;
    struct rsp_decoder d;
    assert_int_equal(rsp_decoder_init(&d, 0), RSP_OK);
    struct log l = {0};
    /* X body with all four escaped bytes */
    const uint8_t raw[] = {'X', '}', 0x03, '}', 0x04, '}', ']', '}', 0x0a};
    struct rsp_buf b = RSP_BUF_INIT;
    rsp_buf_append(&b, "$", 1);
    rsp_buf_append(&b, raw, sizeof raw);
    char tail[4];
    snprintf(tail, sizeof tail, "#%02x", rsp_checksum(raw, sizeof raw));
    rsp_buf_append(&b, tail, 3);
    assert_int_equal(rsp_decoder_feed(&d, b.data, b.len, collect, &l), b.len);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.kind[0], RSP_EV_PACKET);
    assert_int_equal(l.len[0], 5);
    assert_memory_equal(payload(&l, 0), "X#$}*", 5);
    /* and the builder produces exactly that frame */
    struct rsp_buf e = RSP_BUF_INIT;
    assert_int_equal(rsp_encode_packet(&e, "X#$}*", 5), RSP_OK);
    assert_int_equal(e.len, b.len);
    assert_memory_equal(e.data, b.data, b.len);
    /* a lone escape before '#' is malformed, not a crash */
    rsp_buf_reset(&b);
    rsp_buf_append(&b, "$ab}#", 5);
    snprintf(tail, sizeof tail, "%02x", rsp_checksum("ab}", 3));
    rsp_buf_append(&b, tail, 2);
    assert_int_equal(rsp_decoder_feed(&d, b.data, b.len, collect, &l), b.len);
    assert_int_equal(l.kind[1], RSP_EV_MALFORMED);
    rsp_buf_free(&b);
    rsp_buf_free(&e);
    rsp_buf_free(&l.data);
    rsp_decoder_fini(&d);
}

static void rle_decode_and_bad_counts(void **state)
{
    (void)state;
    struct rsp_decoder d;
    assert_int_equal(rsp_decoder_init(&d, 0), RSP_OK);
    struct log l = {0};
    struct rsp_buf b = RSP_BUF_INIT;
    const char *bodies[] = {"a*\"", "x*~", "*!", "a*\x1d"};
    for (int i = 0; i < 4; i++) {
        rsp_buf_reset(&b);
        rsp_buf_append(&b, "$", 1);
        rsp_buf_append(&b, bodies[i], strlen(bodies[i]));
        char tail[4];
        snprintf(tail, sizeof tail, "#%02x", rsp_checksum(bodies[i], strlen(bodies[i])));
        rsp_buf_append(&b, tail, 3);
        assert_int_equal(rsp_decoder_feed(&d, b.data, b.len, collect, &l), b.len);
    }
    assert_int_equal(l.n, 4);
    expect_packet(&l, 0, "aaaaaa");            /* '"' = 5 more */
    assert_int_equal(l.len[1], 98);            /* '~' = 97 more */
    assert_int_equal(l.kind[2], RSP_EV_MALFORMED); /* nothing to repeat */
    assert_int_equal(l.kind[3], RSP_EV_MALFORMED); /* count below range */
    rsp_buf_free(&b);
    rsp_buf_free(&l.data);
    rsp_decoder_fini(&d);
}

static bool forbidden_count(uint8_t c)
{
    return c == '#' || c == '$' || c == '+' || c == '-' || c == '*' || c == '}' || c > '~' ||
           c < ' ';
}

static void rle_encode_round_trip(void **state)
{
    (void)state;
    struct rsp_decoder d;
    assert_int_equal(rsp_decoder_init(&d, 0), RSP_OK);
    struct log l = {0};
    struct rsp_buf b = RSP_BUF_INIT;
    /* Every run length 1..300 of a plain char, then of an escaped one. */
    uint8_t data[400];
    for (int ch = 0; ch < 2; ch++) {
        for (size_t run = 1; run <= 300; run++) {
            memset(data, ch ? '}' : '0', run);
            data[run] = 'z';
            rsp_buf_reset(&b);
            rsp_frame_begin(&b, '$');
            rsp_frame_put(&b, data, run + 1);
            assert_int_equal(rsp_frame_end(&b, RSP_FRAME_RLE), RSP_OK);
            for (size_t i = 1; i + 1 < b.len; i++)
                if (b.data[i] == '*')
                    assert_false(forbidden_count(b.data[i + 1]));
            if (!ch && run > 20)
                assert_true(b.len < run);
            l.n = 0;
            rsp_buf_reset(&l.data);
            assert_int_equal(rsp_decoder_feed(&d, b.data, b.len, collect, &l), b.len);
            assert_int_equal(l.n, 1);
            assert_int_equal(l.kind[0], RSP_EV_PACKET);
            assert_int_equal(l.len[0], run + 1);
            assert_memory_equal(payload(&l, 0), data, run + 1);
        }
    }
    rsp_buf_free(&b);
    rsp_buf_free(&l.data);
    rsp_decoder_fini(&d);
}

/* Random binary payloads, escaped, optionally RLE-compressed, fed whole. */
static void binary_round_trips(void **state)
{
    (void)state;
    struct rsp_decoder d;
    assert_int_equal(rsp_decoder_init(&d, 70000), RSP_OK);
    struct log l = {0};
    struct rsp_buf b = RSP_BUF_INIT;
    uint8_t *data = malloc(65536);
    assert_non_null(data);
    srand(99);
    for (int iter = 0; iter < 200; iter++) {
        size_t len = (size_t)rand() % (iter < 190 ? 600 : 65536);
        int mode = rand() % 3; /* uniform bytes, few symbols (runs), specials */
        for (size_t i = 0; i < len; i++)
            data[i] = mode == 0 ? (uint8_t)rand()
                    : mode == 1 ? (uint8_t)("0#}a"[rand() % 4])
                                : (uint8_t)("#$}*\x03+-%"[rand() % 8]);
        rsp_buf_reset(&b);
        rsp_frame_begin(&b, '$');
        rsp_frame_put(&b, data, len);
        assert_int_equal(rsp_frame_end(&b, iter & 1 ? RSP_FRAME_RLE : 0), RSP_OK);
        l.n = 0;
        rsp_buf_reset(&l.data);
        assert_int_equal(rsp_decoder_feed(&d, b.data, b.len, collect, &l), b.len);
        assert_int_equal(l.n, 1);
        assert_int_equal(l.kind[0], RSP_EV_PACKET);
        assert_int_equal(l.len[0], len);
        if (len)
            assert_memory_equal(payload(&l, 0), data, len);
    }
    free(data);
    rsp_buf_free(&b);
    rsp_buf_free(&l.data);
    rsp_decoder_fini(&d);
}

/* A set of frames of every kind, fed in two pieces at every split point and
 * also one byte at a time: the events must not depend on the split. */
static void split_feeding(void **state)
{
    (void)state;
    struct rsp_buf w = RSP_BUF_INIT;
    rsp_buf_append(&w, "+", 1);
    rsp_encode_packet(&w, "m1000,4", 7);
    rsp_buf_append(&w, "\x03-", 2);
    rsp_frame_begin(&w, '$');
    rsp_frame_put(&w, "X10,5:\x00#$}*", 11);
    rsp_frame_end(&w, 0);
    rsp_frame_begin(&w, '$');
    rsp_frame_put_str(&w, "0000000000abc");
    rsp_frame_end(&w, RSP_FRAME_RLE);
    rsp_frame_begin(&w, '%');
    rsp_frame_put_str(&w, "Stop:T05");
    rsp_frame_end(&w, 0);
    rsp_buf_append(&w, "$bad#00", 7);

    struct rsp_decoder d;
    assert_int_equal(rsp_decoder_init(&d, 0), RSP_OK);
    struct log ref = {0};
    assert_int_equal(rsp_decoder_feed(&d, w.data, w.len, collect, &ref), w.len);
    assert_int_equal(ref.n, 8);
    const enum rsp_event_kind kinds[] = {RSP_EV_ACK, RSP_EV_PACKET, RSP_EV_INTERRUPT, RSP_EV_NAK,
                                         RSP_EV_PACKET, RSP_EV_PACKET, RSP_EV_NOTIFICATION,
                                         RSP_EV_BAD_CHECKSUM};
    for (int i = 0; i < 8; i++)
        assert_int_equal(ref.kind[i], kinds[i]);
    expect_packet(&ref, 5, "0000000000abc");

    for (size_t cut = 0; cut <= w.len; cut++) {
        struct log l = {0};
        rsp_decoder_reset(&d);
        assert_int_equal(rsp_decoder_feed(&d, w.data, cut, collect, &l), cut);
        assert_int_equal(rsp_decoder_feed(&d, w.data + cut, w.len - cut, collect, &l), w.len - cut);
        assert_int_equal(l.n, ref.n);
        assert_int_equal(l.data.len, ref.data.len);
        assert_memory_equal(l.kind, ref.kind, sizeof ref.kind[0] * (size_t)ref.n);
        assert_memory_equal(l.data.data, ref.data.data, ref.data.len);
        rsp_buf_free(&l.data);
    }
    struct log one = {0};
    rsp_decoder_reset(&d);
    for (size_t i = 0; i < w.len; i++)
        assert_int_equal(rsp_decoder_feed(&d, w.data + i, 1, collect, &one), 1);
    assert_int_equal(one.n, ref.n);
    assert_memory_equal(one.data.data, ref.data.data, ref.data.len);
    rsp_buf_free(&one.data);
    rsp_buf_free(&ref.data);
    rsp_buf_free(&w);
    rsp_decoder_fini(&d);
}

static void callback_can_stop(void **state)
{
    (void)state;
    struct rsp_decoder d;
    assert_int_equal(rsp_decoder_init(&d, 0), RSP_OK);
    struct log l = {.stop_after = 1};
    const char *s = "$OK#9a+$g#67";
    size_t used = rsp_decoder_feed(&d, s, strlen(s), collect, &l);
    assert_int_equal(used, 6);
    l.stop_after = 0;
    assert_int_equal(rsp_decoder_feed(&d, s + used, strlen(s) - used, collect, &l),
                     strlen(s) - used);
    assert_int_equal(l.n, 3);
    expect_packet(&l, 2, "g");
    rsp_buf_free(&l.data);
    rsp_decoder_fini(&d);
}

static void oversized_truncated_bad(void **state)
{
    (void)state;
    struct rsp_decoder d;
    assert_int_equal(rsp_decoder_init(&d, 16), RSP_OK);
    struct log l = {0};
    struct rsp_buf b = RSP_BUF_INIT;
    /* 16 fits, 17 does not; RLE expansion counts too */
    rsp_encode_packet(&b, "0123456789abcdef", 16);
    rsp_encode_packet(&b, "0123456789abcdefg", 17);
    rsp_frame_begin(&b, '$');
    rsp_frame_put_str(&b, "0000000000000000000000000000000000000000");
    rsp_frame_end(&b, RSP_FRAME_RLE);
    rsp_encode_packet(&b, "OK", 2); /* state intact afterwards */
    assert_int_equal(rsp_decoder_feed(&d, b.data, b.len, collect, &l), b.len);
    assert_int_equal(l.n, 4);
    expect_packet(&l, 0, "0123456789abcdef");
    assert_int_equal(l.kind[1], RSP_EV_OVERSIZED);
    assert_int_equal(l.len[1], 17);
    assert_int_equal(l.kind[2], RSP_EV_OVERSIZED);
    assert_int_equal(l.len[2], 40);
    expect_packet(&l, 3, "OK");
    /* bad checksums (wrong value, non-hex digits), then a good packet */
    feed_str(&d, "$OK#9b$OK#zz$OK#9A", &l);
    assert_int_equal(l.n, 7);
    assert_int_equal(l.kind[4], RSP_EV_BAD_CHECKSUM);
    assert_int_equal(l.kind[5], RSP_EV_BAD_CHECKSUM);
    expect_packet(&l, 6, "OK"); /* upper-case checksum digits accepted */
    /* truncated: no event until the frame completes, a new '$' restarts */
    feed_str(&d, "$m10,4", &l);
    feed_str(&d, "#", &l);
    assert_int_equal(l.n, 7);
    feed_str(&d, "$OK#9a", &l); /* '$' in checksum position: counted as bad */
    feed_str(&d, "$OK#9a", &l);
    assert_int_equal(l.kind[7], RSP_EV_BAD_CHECKSUM);
    expect_packet(&l, 8, "OK");
    rsp_buf_free(&b);
    rsp_buf_free(&l.data);
    rsp_decoder_fini(&d);
}

static void endless_frame_is_bounded(void **state)
{
    (void)state;
    struct rsp_decoder d;
    assert_int_equal(rsp_decoder_init(&d, 1024), RSP_OK);
    struct log l = {0};
    char junk[4096];
    memset(junk, 'a', sizeof junk);
    feed_str(&d, "$", &l);
    for (int i = 0; i < 1000; i++) /* 4 MB into a 1 KiB decoder */
        assert_int_equal(rsp_decoder_feed(&d, junk, sizeof junk, collect, &l), sizeof junk);
    assert_int_equal(d.len, 1024);
    feed_str(&d, "#00", &l);
    assert_int_equal(l.n, 1);
    rsp_buf_free(&l.data);
    rsp_decoder_fini(&d);
}

static void frame_builder_parts(void **state)
{
    (void)state;
    struct rsp_buf b = RSP_BUF_INIT;
    rsp_frame_begin(&b, '$');
    rsp_frame_put_char(&b, 'T');
    rsp_frame_put_hex(&b, "\x05", 1);
    rsp_frame_printf(&b, "thread:%x;", 0x1f);
    rsp_frame_put_hex_u64(&b, 0);
    rsp_frame_put_char(&b, ',');
    rsp_frame_put_hex_u64(&b, 0xdeadbeefcafe1234ull);
    assert_int_equal(rsp_frame_end(&b, 0), RSP_OK);
    const char *body = "T05thread:1f;0,deadbeefcafe1234";
    char want[64];
    snprintf(want, sizeof want, "$%s#%02x", body, rsp_checksum(body, strlen(body)));
    assert_int_equal(b.len, strlen(want));
    assert_memory_equal(b.data, want, b.len);
    /* end without begin, and abort */
    assert_int_equal(rsp_frame_end(&b, 0), RSP_ERR_INVALID_ARG);
    size_t before = b.len;
    rsp_frame_begin(&b, '$');
    rsp_frame_put_str(&b, "discard me");
    rsp_frame_abort(&b);
    assert_int_equal(b.len, before);
    /* a long printf goes through the heap path */
    rsp_buf_reset(&b);
    rsp_frame_begin(&b, '$');
    rsp_frame_printf(&b, "%0600d", 7);
    assert_int_equal(rsp_frame_end(&b, 0), RSP_OK);
    assert_int_equal(b.len, 604);
    rsp_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(manual_examples),
        cmocka_unit_test(interrupt_notification_noise),
        cmocka_unit_test(escapes_decode),
        cmocka_unit_test(rle_decode_and_bad_counts),
        cmocka_unit_test(rle_encode_round_trip),
        cmocka_unit_test(binary_round_trips),
        cmocka_unit_test(split_feeding),
        cmocka_unit_test(callback_can_stop),
        cmocka_unit_test(oversized_truncated_bad),
        cmocka_unit_test(endless_frame_is_bounded),
        cmocka_unit_test(frame_builder_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
