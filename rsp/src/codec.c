/* Byte-level codec pieces: checksum, '}' escapes, run-length encoding. */
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "rsp.h"
#include "rsp_internal.h"

uint8_t rsp_checksum(const void *data, size_t len)
{
    const uint8_t *p = data;
    uint64_t total = 0;
    size_t i = 0;
#if defined(__SSE2__)
    /* psadbw against zero sums 16 bytes into two 64-bit lanes. */
    __m128i acc = _mm_setzero_si128();
    const __m128i zero = _mm_setzero_si128();
    for (; i + 16 <= len; i += 16)
        acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_loadu_si128((const __m128i *)(p + i)), zero));
    total = (uint64_t)_mm_cvtsi128_si64(acc) + (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc));
#else
    /* SWAR: add eight bytes at a time into 16-bit lanes; each word adds at
     * most 2 * 255 to a lane, so 128 words cannot overflow it. */
    while (len - i >= 8) {
        uint64_t acc = 0;
        size_t words = (len - i) / 8;
        if (words > 128)
            words = 128;
        for (size_t w = 0; w < words; w++, i += 8) {
            uint64_t x;
            memcpy(&x, p + i, 8);
            acc += (x & 0x00ff00ff00ff00ffull) + ((x >> 8) & 0x00ff00ff00ff00ffull);
        }
        total += (acc & 0xffff) + ((acc >> 16) & 0xffff) + ((acc >> 32) & 0xffff) + (acc >> 48);
    }
#endif
    for (; i < len; i++)
        total += p[i];
    return (uint8_t)total;
}

bool rsp_needs_escape(uint8_t b)
{
    return b == '#' || b == '$' || b == '}' || b == '*';
}

size_t rsp_binary_escape(void *out, const void *in, size_t len)
{
    uint8_t *o = out;
    const uint8_t *s = in;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (rsp_needs_escape(s[i])) {
            o[n++] = '}';
            o[n++] = s[i] ^ 0x20;
        } else {
            o[n++] = s[i];
        }
    }
    return n;
}

bool rsp_binary_unescape(void *out, const void *in, size_t len, size_t *out_len)
{
    uint8_t *o = out;
    const uint8_t *s = in;
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '}') {
            if (++i == len) {
                *out_len = n;
                return false;
            }
            o[n++] = s[i] ^ 0x20;
        } else {
            o[n++] = s[i];
        }
    }
    *out_len = n;
    return true;
}

/* Count chars are ' ' + (repeat - 3)... i.e. char = repeat + 29. These would
 * be read as framing or acks by some peers, so runs use a shorter count. */
static bool bad_count_char(int c)
{
    return c == '#' || c == '$' || c == '+' || c == '-' || c == '*' || c == '}' || c > '~';
}

size_t rsp_rle_encode_inplace(uint8_t *p, size_t len)
{
    size_t r = 0, w = 0;
    while (r < len) {
        uint8_t c = p[r];
        size_t run = 1;
        while (r + run < len && p[r + run] == c)
            run++;
        p[w++] = c;
        r += run;
        size_t extra = run - 1; /* copies after the first */
        /* A '}' escape's second char may repeat, but never '}' itself, so
         * an encoded escape is never split from its partner. */
        while (c != '}' && extra >= 3) {
            size_t n = extra > 97 ? 97 : extra; /* '~' = 97 + 29 */
            while (bad_count_char((int)n + 29))
                n--;
            p[w++] = '*';
            p[w++] = (uint8_t)(n + 29);
            extra -= n;
        }
        while (extra--)
            p[w++] = c;
    }
    return w;
}
