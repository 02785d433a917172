/* Incremental RSP parser: raw bytes in any split, events out, memory bounded
 * by max_payload. Order of decoding follows gdb: run-length expansion applies
 * to the raw (escaped) characters, then '}' escapes are undone. */
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "rsp.h"
#include "rsp_internal.h"

enum {
    S_IDLE,  /* between frames */
    S_BODY,  /* inside $...# or %...# */
    S_COUNT, /* after '*': the repeat-count char */
    S_CS1,   /* first checksum digit */
    S_CS2,   /* second checksum digit */
};

enum rsp_status rsp_decoder_init(struct rsp_decoder *d, size_t max_payload)
{
    memset(d, 0, sizeof *d);
    if (!max_payload)
        max_payload = RSP_DEFAULT_MAX_PAYLOAD;
    if (max_payload > SIZE_MAX / 2)
        return RSP_ERR_INVALID_ARG;
    d->buf = malloc(max_payload + 1);
    if (!d->buf)
        return RSP_ERR_NO_MEMORY;
    d->max_payload = max_payload;
    return RSP_OK;
}

void rsp_decoder_fini(struct rsp_decoder *d)
{
    free(d->buf);
    memset(d, 0, sizeof *d);
}

static void start_frame(struct rsp_decoder *d, bool notification)
{
    d->state = S_BODY;
    d->notification = notification;
    d->len = d->seen = 0;
    d->oversized = d->malformed = d->escape = d->have_last = false;
    d->sum = 0;
}

void rsp_decoder_reset(struct rsp_decoder *d)
{
    d->state = S_IDLE;
    d->len = d->seen = 0;
}

static inline void put_decoded(struct rsp_decoder *d, uint8_t byte)
{
    d->seen++;
    if (d->len < d->max_payload)
        d->buf[d->len++] = byte;
    else
        d->oversized = true;
}

/* One raw body char, after run-length expansion. */
static inline void put_raw(struct rsp_decoder *d, uint8_t c)
{
    d->last_raw = c;
    d->have_last = true;
    if (d->escape) {
        d->escape = false;
        put_decoded(d, c ^ 0x20);
    } else if (c == '}') {
        d->escape = true;
    } else {
        put_decoded(d, c);
    }
}

static inline bool body_special(uint8_t c)
{
    return c == '#' || c == '$' || c == '*' || c == '}';
}

/* Scalar tail of body_run: chars from p[0] up to the first special one are
 * checksummed and stored (as far as the bound allows). */
static size_t body_run_scalar(struct rsp_decoder *d, const uint8_t *p, size_t n)
{
    size_t j = 0;
    while (j < n && !body_special(p[j]))
        j++;
    if (!j)
        return 0;
    d->sum = (uint8_t)(d->sum + rsp_checksum(p, j));
    size_t room = d->max_payload - d->len;
    size_t take = j < room ? j : room;
    memcpy(d->buf + d->len, p, take);
    d->len += take;
    d->seen += j;
    if (take < j)
        d->oversized = true;
    d->last_raw = p[j - 1];
    d->have_last = true;
    return j;
}

/* Copy a run of plain body chars at once (the hot path for big packets). */
static size_t body_run(struct rsp_decoder *d, const uint8_t *p, size_t n)
{
    size_t j = 0;
#if defined(__SSE2__)
    /* One pass, sixteen chars per step: look for the four specials, add to
     * the checksum (psadbw) and store, while the block fits the bound. */
    const __m128i hash = _mm_set1_epi8('#'), dollar = _mm_set1_epi8('$');
    const __m128i star = _mm_set1_epi8('*'), brace = _mm_set1_epi8('}');
    const __m128i zero = _mm_setzero_si128();
    __m128i acc = zero;
    size_t room = d->max_payload - d->len;
    size_t limit = n < room ? n : room;
    uint8_t *out = d->buf + d->len;
    for (; j + 16 <= limit; j += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + j));
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, hash), _mm_cmpeq_epi8(v, dollar)),
                                   _mm_or_si128(_mm_cmpeq_epi8(v, star), _mm_cmpeq_epi8(v, brace)));
        if (_mm_movemask_epi8(hit))
            break;
        acc = _mm_add_epi64(acc, _mm_sad_epu8(v, zero));
        _mm_storeu_si128((__m128i *)(out + j), v);
    }
    if (j) {
        uint64_t sum = (uint64_t)_mm_cvtsi128_si64(acc) +
                       (uint64_t)_mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc));
        d->sum = (uint8_t)(d->sum + sum);
        d->len += j;
        d->seen += j;
        d->last_raw = p[j - 1];
        d->have_last = true;
    }
#endif
    return j + body_run_scalar(d, p + j, n - j);
}

/* Plain runs and '}' escape pairs (binary X / qXfer bodies) without going
 * back through the state machine for each escape. Stops at '#', '$', '*',
 * or a '}' whose partner is not in this chunk. */
static size_t body_span(struct rsp_decoder *d, const uint8_t *p, size_t n)
{
    size_t j = 0;
    for (;;) {
        j += body_run(d, p + j, n - j);
        if (j + 1 >= n || p[j] != '}' || p[j + 1] == '#' || p[j + 1] == '$')
            return j;
        /* same effect as the state machine's '}' then partner */
        d->sum = (uint8_t)(d->sum + '}' + p[j + 1]);
        d->last_raw = p[j + 1];
        d->have_last = true;
        put_decoded(d, p[j + 1] ^ 0x20);
        j += 2;
    }
}

static int emit(struct rsp_decoder *d, enum rsp_event_kind kind, rsp_event_fn fn, void *ctx)
{
    struct rsp_event ev = {.kind = kind, .notification = d->notification};
    if (kind == RSP_EV_PACKET || kind == RSP_EV_NOTIFICATION) {
        d->buf[d->len] = 0;
        ev.data = d->buf;
        ev.len = d->len;
    } else if (kind == RSP_EV_OVERSIZED) {
        ev.len = d->seen;
    }
    return fn ? fn(ctx, &ev) : 0;
}

static int finish_frame(struct rsp_decoder *d, int cs, rsp_event_fn fn, void *ctx)
{
    d->state = S_IDLE;
    enum rsp_event_kind kind;
    if (cs < 0 || (uint8_t)cs != d->sum)
        kind = RSP_EV_BAD_CHECKSUM;
    else if (d->oversized)
        kind = RSP_EV_OVERSIZED;
    else if (d->malformed || d->escape)
        kind = RSP_EV_MALFORMED;
    else
        kind = d->notification ? RSP_EV_NOTIFICATION : RSP_EV_PACKET;
    return emit(d, kind, fn, ctx);
}

size_t rsp_decoder_feed(struct rsp_decoder *d, const void *bytes, size_t len,
                        rsp_event_fn fn, void *ctx)
{
    const uint8_t *p = bytes;
    size_t i = 0;
    while (i < len) {
        uint8_t c = p[i];
        int stop = 0;
        switch (d->state) {
        case S_IDLE:
            if (c == '$' || c == '%')
                start_frame(d, c == '%');
            else if (c == '+')
                stop = emit(d, RSP_EV_ACK, fn, ctx);
            else if (c == '-')
                stop = emit(d, RSP_EV_NAK, fn, ctx);
            else if (c == 0x03)
                stop = emit(d, RSP_EV_INTERRUPT, fn, ctx);
            /* anything else between frames is line noise: skipped */
            i++;
            break;
        case S_BODY:
            if (!d->escape) {
                size_t run = body_span(d, p + i, len - i);
                if (run) {
                    i += run;
                    break;
                }
            }
            if (c == '#') {
                d->state = S_CS1;
            } else if (c == '$') {
                start_frame(d, false); /* gdb restarts on a stray '$' */
            } else {
                d->sum = (uint8_t)(d->sum + c);
                if (c == '*' && !d->escape)
                    d->state = S_COUNT;
                else
                    put_raw(d, c);
            }
            i++;
            break;
        case S_COUNT:
            if (c == '#') {
                d->malformed = true;
                d->state = S_CS1;
            } else if (c == '$') {
                start_frame(d, false);
            } else {
                d->sum = (uint8_t)(d->sum + c);
                d->state = S_BODY;
                if (!d->have_last || c < 30 || c > 126) {
                    d->malformed = true;
                } else {
                    uint8_t r = d->last_raw;
                    for (int n = c - 29; n > 0; n--)
                        put_raw(d, r);
                }
            }
            i++;
            break;
        case S_CS1:
            d->cs_hi = c;
            d->state = S_CS2;
            i++;
            break;
        case S_CS2: {
            int hi = rsp_hex_digit(d->cs_hi), lo = rsp_hex_digit(c);
            i++;
            stop = finish_frame(d, (hi < 0 || lo < 0) ? -1 : hi * 16 + lo, fn, ctx);
            break;
        }
        }
        if (stop)
            return i;
    }
    return i;
}
