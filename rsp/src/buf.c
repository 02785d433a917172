/* Growable buffer and the in-place frame builder. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rsp.h"
#include "rsp_internal.h"

void rsp_buf_free(struct rsp_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

void rsp_buf_reset(struct rsp_buf *b)
{
    b->len = 0;
    b->failed = false;
    b->in_frame = false;
    if (b->data)
        b->data[0] = 0;
}

bool rsp_buf_reserve(struct rsp_buf *b, size_t extra)
{
    if (b->failed)
        return false;
    /* +1 keeps room for a NUL after the data (see rsp_event.data). */
    if (extra > SIZE_MAX / 2 - b->len - 1) {
        b->failed = true;
        return false;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

uint8_t *rsp_buf_tail(struct rsp_buf *b, size_t n)
{
    return rsp_buf_reserve(b, n) ? b->data + b->len : NULL;
}

void rsp_buf_commit(struct rsp_buf *b, size_t n)
{
    if (!b->failed && b->len + n < b->cap) {
        b->len += n;
        b->data[b->len] = 0; /* reserve keeps room for it */
    }
}

bool rsp_buf_append(struct rsp_buf *b, const void *data, size_t len)
{
    uint8_t *t = rsp_buf_tail(b, len);
    if (!t)
        return false;
    if (len)
        memcpy(t, data, len);
    b->len += len;
    b->data[b->len] = 0;
    return true;
}

void rsp_frame_begin(struct rsp_buf *b, char lead)
{
    b->frame_start = b->len;
    b->frame_sum = 0;
    b->in_frame = true;
    uint8_t c = (uint8_t)lead;
    rsp_buf_append(b, &c, 1);
}

/* Count bytes written since `from` into the running checksum. */
static void frame_account(struct rsp_buf *b, size_t from)
{
    b->frame_sum = (uint8_t)(b->frame_sum + rsp_checksum(b->data + from, b->len - from));
}

void rsp_frame_put(struct rsp_buf *b, const void *data, size_t len)
{
    if (!b->in_frame || b->failed)
        return;
    const uint8_t *s = data;
    size_t from = b->len;
    /* Copy runs of ordinary bytes with memcpy; escapes are rare in practice. */
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && !rsp_needs_escape(s[j]))
            j++;
        if (!rsp_buf_append(b, s + i, j - i))
            return;
        if (j < len) {
            uint8_t esc[2] = {'}', (uint8_t)(s[j] ^ 0x20)};
            if (!rsp_buf_append(b, esc, 2))
                return;
            j++;
        }
        i = j;
    }
    frame_account(b, from);
}

void rsp_frame_put_str(struct rsp_buf *b, const char *s)
{
    rsp_frame_put(b, s, strlen(s));
}

void rsp_frame_put_char(struct rsp_buf *b, char c)
{
    rsp_frame_put(b, &c, 1);
}

void rsp_frame_vprintf(struct rsp_buf *b, const char *fmt, va_list ap)
{
    char small[256];
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(small, sizeof small, fmt, copy);
    va_end(copy);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if ((size_t)n < sizeof small) {
        rsp_frame_put(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->failed = true;
        return;
    }
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    rsp_frame_put(b, big, (size_t)n);
    free(big);
}

void rsp_frame_printf(struct rsp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rsp_frame_vprintf(b, fmt, ap);
    va_end(ap);
}

void rsp_frame_put_hex(struct rsp_buf *b, const void *mem, size_t len)
{
    if (!b->in_frame || b->failed)
        return;
    if (len > SIZE_MAX / 4) {
        b->failed = true;
        return;
    }
    uint8_t *t = rsp_buf_tail(b, 2 * len);
    if (!t)
        return;
    /* Hex digits never need escaping: written straight into the frame. */
    uint64_t sum = rsp_hex_encode_sum((char *)t, mem, len);
    b->frame_sum = (uint8_t)(b->frame_sum + sum);
    b->len += 2 * len;
    b->data[b->len] = 0;
}

void rsp_frame_put_hex_u64(struct rsp_buf *b, uint64_t value)
{
    char tmp[16];
    int n = 0;
    do {
        tmp[15 - n++] = rsp_hex_pairs[2 * (value & 15) + 1];
        value >>= 4;
    } while (value);
    rsp_frame_put(b, tmp + 16 - n, (size_t)n);
}

void rsp_frame_abort(struct rsp_buf *b)
{
    if (b->in_frame) {
        b->len = b->frame_start;
        b->in_frame = false;
    }
    b->failed = false;
}

enum rsp_status rsp_frame_end(struct rsp_buf *b, unsigned flags)
{
    if (!b->in_frame)
        return RSP_ERR_INVALID_ARG;
    if (b->failed) {
        /* Drop the partial frame; the buffer stays usable. */
        if (b->data)
            b->len = b->frame_start < b->len ? b->frame_start : b->len;
        b->in_frame = false;
        b->failed = false;
        return RSP_ERR_NO_MEMORY;
    }
    size_t body = b->frame_start + 1;
    if (flags & RSP_FRAME_RLE) {
        size_t n = rsp_rle_encode_inplace(b->data + body, b->len - body);
        b->len = body + n;
        b->frame_sum = rsp_checksum(b->data + body, n);
    }
    uint8_t *t = rsp_buf_tail(b, 3);
    if (!t) {
        b->len = b->frame_start;
        b->in_frame = false;
        b->failed = false;
        return RSP_ERR_NO_MEMORY;
    }
    t[0] = '#';
    memcpy(t + 1, rsp_hex_pairs + 2 * b->frame_sum, 2);
    b->len += 3;
    b->data[b->len] = 0;
    b->in_frame = false;
    return RSP_OK;
}

enum rsp_status rsp_encode_packet(struct rsp_buf *b, const void *payload, size_t len)
{
    rsp_frame_begin(b, '$');
    rsp_frame_put(b, payload, len);
    return rsp_frame_end(b, 0);
}
