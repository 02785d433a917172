/* libFuzzer target: hex decode/encode, number parsing, binary escape and
 * unescape. Each decoder runs on arbitrary input; what decodes must
 * re-encode to an equivalent form. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rsp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data, *end = s + size;

    /* numbers and thread ids at every offset, as a packet-argument walk
     * would meet them; the number parser is checked against a plain one */
    for (const char *p = s; p < end; p++) {
        uint64_t v, ref = 0;
        int64_t t;
        size_t digits = 0;
        bool overflow = false;
        while (p + digits < end && rsp_hex_digit((unsigned char)p[digits]) >= 0) {
            if (ref >> 60)
                overflow = true;
            ref = (ref << 4) | (uint64_t)rsp_hex_digit((unsigned char)p[digits]);
            digits++;
        }
        const char *q = p;
        bool ok = rsp_parse_hex_u64(&q, end, &v);
        if (ok != (digits > 0 && !overflow))
            abort();
        if (ok && (v != ref || q != p + digits))
            abort();
        if (!ok && q != p)
            abort();
        q = p;
        if (rsp_parse_thread_id(&q, end, &t) && (q <= p || q > end))
            abort();
        uint32_t w;
        q = p;
        if (rsp_parse_hex_u32(&q, end, &w) && (q > end || !ok || w != v))
            abort();
    }

    /* hex decode of the whole input; if it decodes, re-encoding matches
     * case-insensitively */
    size_t n = size / 2;
    uint8_t *bin = malloc(n + 1);
    char *hex = malloc(2 * n + 1);
    if (!bin || !hex)
        abort();
    if (rsp_hex_decode(bin, s, n)) {
        rsp_hex_encode(hex, bin, n);
        for (size_t i = 0; i < 2 * n; i++) {
            char c = s[i];
            if (c >= 'A' && c <= 'F')
                c = (char)(c - 'A' + 'a');
            if (hex[i] != c)
                abort();
        }
    }
    free(hex);
    free(bin);

    /* unescape arbitrary bytes; escape then unescape returns the input */
    uint8_t *out = malloc(size + 1);
    uint8_t *esc = malloc(2 * size + 1);
    uint8_t *back = malloc(2 * size + 1);
    if (!out || !esc || !back)
        abort();
    size_t m, r = 0;
    bool ok = rsp_binary_unescape(out, data, size, &m), ref_ok = true;
    uint8_t *ref = malloc(size + 1);
    if (!ref)
        abort();
    for (size_t i = 0; i < size; i++) {
        if (data[i] != '}') {
            ref[r++] = data[i];
        } else if (i + 1 < size) {
            ref[r++] = data[++i] ^ 0x20;
        } else {
            ref_ok = false;
        }
    }
    if (ok != ref_ok || m != r || (r && memcmp(out, ref, r) != 0))
        abort();
    free(ref);
    size_t e = rsp_binary_escape(esc, data, size);
    if (e > 2 * size || !rsp_binary_unescape(back, esc, e, &m) || m != size ||
        (size && memcmp(back, data, size) != 0))
        abort();
    /* RLE in place on the escaped form never grows it */
    if (rsp_rle_encode_inplace(esc, e) > e)
        abort();
    free(out);
    free(esc);
    free(back);
    return 0;
}
