/* Hex and number helpers: table-driven so a 1 MiB 'm' reply costs about as
 * much as a memcpy, and strict so garbage in a packet is refused, not guessed. */
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

#if defined(__SSE2__)
/* 16 bytes -> 32 hex chars: split nibbles, map 0-9/10-15 to '0'/'a' with a
 * compare, interleave high and low nibbles. SSE2 is baseline on x86-64.
 * Adds the chars' sum to *acc (psadbw) while they are in registers. */
static inline void hex_encode16(char *out, const uint8_t *in, __m128i *acc)
{
    const __m128i low4 = _mm_set1_epi8(0x0f);
    __m128i v = _mm_loadu_si128((const __m128i *)in);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(v, 4), low4);
    __m128i lo = _mm_and_si128(v, low4);
    const __m128i nine = _mm_set1_epi8(9), zero = _mm_set1_epi8('0');
    const __m128i gap = _mm_set1_epi8('a' - '0' - 10);
    hi = _mm_add_epi8(_mm_add_epi8(hi, zero), _mm_and_si128(_mm_cmpgt_epi8(hi, nine), gap));
    lo = _mm_add_epi8(_mm_add_epi8(lo, zero), _mm_and_si128(_mm_cmpgt_epi8(lo, nine), gap));
    _mm_storeu_si128((__m128i *)out, _mm_unpacklo_epi8(hi, lo));
    _mm_storeu_si128((__m128i *)(out + 16), _mm_unpackhi_epi8(hi, lo));
    const __m128i z = _mm_setzero_si128();
    *acc = _mm_add_epi64(*acc, _mm_add_epi64(_mm_sad_epu8(hi, z), _mm_sad_epu8(lo, z)));
}
#endif

uint64_t rsp_hex_encode_sum(char *out, const void *mem, size_t len)
{
    const uint8_t *in = mem;
    size_t i = 0;
    uint64_t sum = 0;
#if defined(__SSE2__)
    __m128i acc = _mm_setzero_si128();
    for (; i + 16 <= len; i += 16)
        hex_encode16(out + 2 * i, in + i, &acc);
    sum = (uint64_t)_mm_cvtsi128_si64(acc) + (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc));
#endif
    for (; i < len; i++) {
        memcpy(out + 2 * i, rsp_hex_pairs + 2 * in[i], 2);
        sum += (uint8_t)out[2 * i] + (uint8_t)out[2 * i + 1];
    }
    return sum;
}

void rsp_hex_encode(char *out, const void *mem, size_t len)
{
    rsp_hex_encode_sum(out, mem, len);
}

#if defined(__SSE2__)
/* 32 hex chars -> 16 bytes; false if any char is not a hex digit. */
static inline bool hex_decode16(uint8_t *out, const char *hex)
{
    const __m128i c0 = _mm_loadu_si128((const __m128i *)hex);
    const __m128i c1 = _mm_loadu_si128((const __m128i *)(hex + 16));
    const __m128i k0 = _mm_set1_epi8('0'), ka = _mm_set1_epi8('a'), case_bit = _mm_set1_epi8(0x20);
    const __m128i nine = _mm_set1_epi8(9), five = _mm_set1_epi8(5), ten = _mm_set1_epi8(10);
    __m128i val[2], ok[2];
    const __m128i in[2] = {c0, c1};
    for (int k = 0; k < 2; k++) {
        __m128i d = _mm_sub_epi8(in[k], k0);                         /* '0'..'9' -> 0..9 */
        __m128i l = _mm_sub_epi8(_mm_or_si128(in[k], case_bit), ka); /* 'a'..'f' -> 0..5 */
        __m128i is_d = _mm_cmpeq_epi8(_mm_min_epu8(d, nine), d);     /* unsigned d <= 9 */
        __m128i is_l = _mm_cmpeq_epi8(_mm_min_epu8(l, five), l);     /* unsigned l <= 5 */
        val[k] = _mm_or_si128(_mm_and_si128(is_d, d),
                              _mm_and_si128(is_l, _mm_add_epi8(l, ten)));
        ok[k] = _mm_or_si128(is_d, is_l);
    }
    if (_mm_movemask_epi8(_mm_and_si128(ok[0], ok[1])) != 0xffff)
        return false;
    /* each 16-bit lane holds (high digit, low digit): byte = hi << 4 | lo */
    const __m128i lowbyte = _mm_set1_epi16(0x00ff);
    __m128i b0 = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(val[0], lowbyte), 4),
                              _mm_srli_epi16(val[0], 8));
    __m128i b1 = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(val[1], lowbyte), 4),
                              _mm_srli_epi16(val[1], 8));
    _mm_storeu_si128((__m128i *)out, _mm_packus_epi16(b0, b1));
    return true;
}
#endif

bool rsp_hex_decode(void *out, const char *hex, size_t len)
{
    uint8_t *o = out;
    const uint8_t *h = (const uint8_t *)hex;
    size_t i = 0;
#if defined(__SSE2__)
    for (; i + 16 <= len; i += 16)
        if (!hex_decode16(o + i, hex + 2 * i))
            return false;
#endif
    /* OR the digit values together and test once: -1 poisons the sign bit,
     * so the loop has no data-dependent branch per byte. */
    int bad = 0;
    for (; i < len; i++) {
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
