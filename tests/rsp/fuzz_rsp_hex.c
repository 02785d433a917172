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

    /* numbers and thread ids: a packet-argument walk like "m addr,len" */
    for (const char *p = s; p < end;) {
        uint64_t v;
        int64_t t;
        const char *q = p;
        if (rsp_parse_hex_u64(&q, end, &v)) {
            if (q <= p || q > end)
                abort();
            char back[17] = {0};
            int n = 0;
            for (uint64_t x = v; x || !n; x >>= 4)
                n++;
            (void)back;
        }
        q = p;
        if (rsp_parse_thread_id(&q, end, &t) && (q <= p || q > end))
            abort();
        uint32_t w;
        q = p;
        if (rsp_parse_hex_u32(&q, end, &w) && q > end)
            abort();
        p++;
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
    size_t m;
    bool ok = rsp_binary_unescape(out, data, size, &m);
    if (m > size || (ok && size && data[size - 1] == '}' && m == 0 && size == 1))
        abort();
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
