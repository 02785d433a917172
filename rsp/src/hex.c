/* Hex and number helpers: table-driven so a 1 MiB 'm' reply costs about as
 * much as a memcpy, and strict so garbage in a packet is refused, not guessed. */
#include <string.h>

#include "rsp.h"
#include "rsp_internal.h"

/* "000102...ff": the two digits of byte i are at offset 2*i. */
const char rsp_hex_pairs[513] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
    "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
    "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
    "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
    "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
    "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
    "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";

/* Digit value of each byte, -1 for a non-digit. */
static const int8_t hex_value[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -1, -1, -1, -1, -1,
    -1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

int rsp_hex_digit(int c)
{
    if (c < 0 || c > 255)
        return -1;
    return hex_value[c];
}

void rsp_hex_encode(char *out, const void *mem, size_t len)
{
    const uint8_t *in = mem;
    size_t i = 0;
    /* Eight bytes per iteration: 16 output chars assembled with fixed-size
     * memcpy, which compilers turn into plain 2-byte moves. */
    for (; i + 8 <= len; i += 8) {
        char *o = out + 2 * i;
        memcpy(o + 0, rsp_hex_pairs + 2 * in[i + 0], 2);
        memcpy(o + 2, rsp_hex_pairs + 2 * in[i + 1], 2);
        memcpy(o + 4, rsp_hex_pairs + 2 * in[i + 2], 2);
        memcpy(o + 6, rsp_hex_pairs + 2 * in[i + 3], 2);
        memcpy(o + 8, rsp_hex_pairs + 2 * in[i + 4], 2);
        memcpy(o + 10, rsp_hex_pairs + 2 * in[i + 5], 2);
        memcpy(o + 12, rsp_hex_pairs + 2 * in[i + 6], 2);
        memcpy(o + 14, rsp_hex_pairs + 2 * in[i + 7], 2);
    }
    for (; i < len; i++)
        memcpy(out + 2 * i, rsp_hex_pairs + 2 * in[i], 2);
}

bool rsp_hex_decode(void *out, const char *hex, size_t len)
{
    uint8_t *o = out;
    const uint8_t *h = (const uint8_t *)hex;
    /* OR the digit values together and test once: -1 poisons the sign bit,
     * so the loop has no data-dependent branch per byte. */
    int bad = 0;
    for (size_t i = 0; i < len; i++) {
        int hi = hex_value[h[2 * i]], lo = hex_value[h[2 * i + 1]];
        bad |= hi | lo;
        o[i] = (uint8_t)(((unsigned)hi << 4) | ((unsigned)lo & 15));
    }
    return bad >= 0;
}

bool rsp_parse_hex_u64(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    int digits = 0;
    while (s < end) {
        int d = rsp_hex_digit((unsigned char)*s);
        if (d < 0)
            break;
        if (v >> 60)
            return false; /* one more digit would overflow */
        v = (v << 4) | (unsigned)d;
        s++;
        digits++;
    }
    if (!digits)
        return false;
    *out = v;
    *p = s;
    return true;
}

bool rsp_parse_hex_u32(const char **p, const char *end, uint32_t *out)
{
    const char *s = *p;
    uint64_t v;
    if (!rsp_parse_hex_u64(&s, end, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    *p = s;
    return true;
}

bool rsp_parse_thread_id(const char **p, const char *end, int64_t *out)
{
    const char *s = *p;
    if (s < end && *s == 'p') {
        /* Multiprocess form pP.T: skip the process part. */
        uint64_t pid;
        s++;
        if (s + 1 < end && s[0] == '-' && s[1] == '1')
            s += 2;
        else if (!rsp_parse_hex_u64(&s, end, &pid))
            return false;
        if (!rsp_parse_expect(&s, end, '.')) {
            *out = -1; /* "pP" alone means every thread of P */
            *p = s;
            return true;
        }
    }
    if (s + 1 < end && s[0] == '-' && s[1] == '1') {
        *out = -1;
        *p = s + 2;
        return true;
    }
    uint64_t v;
    if (!rsp_parse_hex_u64(&s, end, &v) || v > INT64_MAX)
        return false;
    *out = (int64_t)v;
    *p = s;
    return true;
}

bool rsp_parse_expect(const char **p, const char *end, char c)
{
    if (*p < end && **p == c) {
        (*p)++;
        return true;
    }
    return false;
}

bool rsp_has_prefix(const void *data, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return n <= len && memcmp(data, prefix, n) == 0;
}
