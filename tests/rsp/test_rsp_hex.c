/* Hex, number parsing, escapes and checksums: pure helpers of rsp/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rsp.h"

static void hex_encode_known(void **state)
{
    (void)state;
    const uint8_t mem[] = {0x00, 0x01, 0x7f, 0x80, 0xab, 0xff, 0x10, 0x20, 0x30, 0x9c};
    char out[2 * sizeof mem + 1] = {0};
    rsp_hex_encode(out, mem, sizeof mem);
    assert_string_equal(out, "00017f80abff1020309c");
}

static void hex_round_trip_random(void **state)
{
    (void)state;
    srand(1234);
    for (size_t len = 0; len < 300; len += 7) {
        uint8_t in[300], back[300];
        char hex[600];
        for (size_t i = 0; i < len; i++)
            in[i] = (uint8_t)rand();
        rsp_hex_encode(hex, in, len);
        assert_true(rsp_hex_decode(back, hex, len));
        if (len)
            assert_memory_equal(in, back, len);
    }
}

static void hex_decode_rejects_garbage(void **state)
{
    (void)state;
    uint8_t out[4];
    assert_true(rsp_hex_decode(out, "DeAdBeEf", 4));
    assert_int_equal(out[0], 0xde);
    assert_int_equal(out[3], 0xef);
    assert_false(rsp_hex_decode(out, "0g", 1));
    assert_false(rsp_hex_decode(out, "  ", 1));
    assert_false(rsp_hex_decode(out, "00\x80" "0", 2));
    assert_int_equal(rsp_hex_digit('f'), 15);
    assert_int_equal(rsp_hex_digit('G'), -1);
    assert_int_equal(rsp_hex_digit(-1), -1);
    assert_int_equal(rsp_hex_digit(300), -1);
}

/* Long inputs take the vector path: every char class at every position. */
static void hex_decode_long_inputs(void **state)
{
    (void)state;
    uint8_t mem[40], back[40];
    char hex[81];
    for (int i = 0; i < 40; i++)
        mem[i] = (uint8_t)(i * 37 + 11);
    rsp_hex_encode(hex, mem, 40);
    hex[80] = 0;
    for (int i = 0; i < 80; i++) /* upper case is accepted too */
        if (hex[i] >= 'a')
            hex[i] = (char)(hex[i] - 32);
    assert_true(rsp_hex_decode(back, hex, 40));
    assert_memory_equal(back, mem, 40);
    const char bad[] = {'g', 'G', '/', ':', '@', '`', 0, '\x80', '\xff', ' ', 'z'};
    for (int pos = 0; pos < 80; pos++) {
        for (size_t b = 0; b < sizeof bad; b++) {
            char save = hex[pos];
            hex[pos] = bad[b];
            assert_false(rsp_hex_decode(back, hex, 40));
            hex[pos] = save;
        }
    }
    /* every byte value, decoded one char pair at a time and in bulk */
    for (int c = 0; c < 256; c++) {
        char two[32];
        memset(two, '0', sizeof two);
        two[5] = (char)c;
        uint8_t o[16];
        bool ok = rsp_hex_decode(o, two, 16);
        assert_int_equal(ok, rsp_hex_digit(c) >= 0);
        if (ok)
            assert_int_equal(o[2], rsp_hex_digit(c));
    }
}

static void parse_hex_numbers(void **state)
{
    (void)state;
    const char *s = "1f,ffffffffffffffff:10000000000000000";
    const char *end = s + strlen(s), *p = s;
    uint64_t v;
    assert_true(rsp_parse_hex_u64(&p, end, &v));
    assert_int_equal(v, 0x1f);
    assert_true(rsp_parse_expect(&p, end, ','));
    assert_false(rsp_parse_expect(&p, end, ','));
    assert_true(rsp_parse_hex_u64(&p, end, &v));
    assert_true(v == UINT64_MAX);
    assert_true(rsp_parse_expect(&p, end, ':'));
    const char *before = p;
    assert_false(rsp_parse_hex_u64(&p, end, &v)); /* 17 digits: overflow */
    assert_ptr_equal(p, before);
    /* no digits, empty range, end respected */
    p = ",";
    assert_false(rsp_parse_hex_u64(&p, p + 1, &v));
    p = "12";
    assert_false(rsp_parse_hex_u64(&p, p, &v));
    p = "1234";
    assert_true(rsp_parse_hex_u64(&p, p + 2, &v));
    assert_int_equal(v, 0x12);
    uint32_t w;
    p = "100000000";
    assert_false(rsp_parse_hex_u32(&p, p + 9, &w));
    p = "ffffffff";
    assert_true(rsp_parse_hex_u32(&p, p + 8, &w));
    assert_true(w == UINT32_MAX);
}

static void parse_thread_ids(void **state)
{
    (void)state;
    struct { const char *s; bool ok; int64_t v; } cases[] = {
        {"-1", true, -1}, {"0", true, 0}, {"1a", true, 0x1a}, {"p1.2", true, 2},
        {"p1.-1", true, -1}, {"p-1.-1", true, -1}, {"p5", true, -1}, {"", false, 0},
        {"x", false, 0}, {"-", false, 0}, {"p", false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *p = cases[i].s;
        int64_t v = 99;
        bool ok = rsp_parse_thread_id(&p, cases[i].s + strlen(cases[i].s), &v);
        assert_int_equal(ok, cases[i].ok);
        if (ok)
            assert_int_equal(v, cases[i].v);
    }
    assert_true(rsp_has_prefix("qSupported:xml", 14, "qSupported"));
    assert_false(rsp_has_prefix("qSup", 4, "qSupported"));
}

static void escape_round_trip(void **state)
{
    (void)state;
    uint8_t all[256], esc[512], back[512];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    size_t n = rsp_binary_escape(esc, all, 256);
    assert_int_equal(n, 256 + 4);
    for (size_t i = 0; i < n; i++)
        assert_true(esc[i] != '#' && esc[i] != '$' && esc[i] != '*' &&
                    (esc[i] != '}' || (i + 1 < n && esc[i + 1] != '}')));
    size_t m;
    assert_true(rsp_binary_unescape(back, esc, n, &m));
    assert_int_equal(m, 256);
    assert_memory_equal(back, all, 256);
    /* in place */
    assert_true(rsp_binary_unescape(esc, esc, n, &m));
    assert_memory_equal(esc, all, 256);
    /* lone trailing escape is refused */
    assert_false(rsp_binary_unescape(back, "ab}", 3, &m));
    assert_int_equal(m, 2);
    /* the manual's example: 0x7d goes as 0x7d 0x5d */
    uint8_t b = 0x7d;
    assert_int_equal(rsp_binary_escape(esc, &b, 1), 2);
    assert_int_equal(esc[0], 0x7d);
    assert_int_equal(esc[1], 0x5d);
}

static void checksum_matches_simple_sum(void **state)
{
    (void)state;
    uint8_t buf[5000];
    srand(7);
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)rand();
    for (size_t len = 0; len < sizeof buf; len += 97) {
        unsigned sum = 0;
        for (size_t i = 0; i < len; i++)
            sum += buf[i];
        assert_int_equal(rsp_checksum(buf, len), (uint8_t)sum);
    }
    memset(buf, 0xff, sizeof buf);
    assert_int_equal(rsp_checksum(buf, sizeof buf), (uint8_t)(0xff * sizeof buf));
    /* manual: "$OK#9a" */
    assert_int_equal(rsp_checksum("OK", 2), 0x9a);
}

static void buffer_basics(void **state)
{
    (void)state;
    struct rsp_buf b = RSP_BUF_INIT;
    assert_true(rsp_buf_append(&b, "ab", 2));
    uint8_t *t = rsp_buf_tail(&b, 4);
    assert_non_null(t);
    memcpy(t, "cdef", 4);
    rsp_buf_commit(&b, 3);
    assert_int_equal(b.len, 5);
    assert_string_equal((char *)b.data, "abcde"); /* NUL kept after commit */
    rsp_buf_reset(&b);
    assert_int_equal(b.len, 0);
    assert_string_equal((char *)b.data, "");
    assert_false(rsp_buf_reserve(&b, SIZE_MAX - 4)); /* absurd sizes fail cleanly */
    assert_true(b.failed);
    assert_false(rsp_buf_append(&b, "x", 1));
    rsp_buf_reset(&b);
    assert_true(rsp_buf_append(&b, "x", 1));
    rsp_frame_begin(&b, '$');
    rsp_frame_put_hex(&b, "\x01\x02", 2);
    assert_string_equal((char *)b.data, "x$0102");
    rsp_buf_free(&b);
    assert_null(b.data);
}

static void status_names(void **state)
{
    (void)state;
    for (int s = 0; s < RSP_STATUS_COUNT; s++)
        assert_non_null(rsp_status_str((enum rsp_status)s));
    assert_string_equal(rsp_status_str(RSP_ERR_TIMEOUT), "timeout");
    assert_string_equal(rsp_status_str((enum rsp_status)999), "unknown status");
    assert_string_equal(rsp_event_kind_str(RSP_EV_OVERSIZED), "oversized");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hex_encode_known),
        cmocka_unit_test(hex_round_trip_random),
        cmocka_unit_test(hex_decode_rejects_garbage),
        cmocka_unit_test(hex_decode_long_inputs),
        cmocka_unit_test(parse_hex_numbers),
        cmocka_unit_test(parse_thread_ids),
        cmocka_unit_test(escape_round_trip),
        cmocka_unit_test(checksum_matches_simple_sum),
        cmocka_unit_test(buffer_basics),
        cmocka_unit_test(status_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
