/* Packet argument parsers: strict, bounded, allocation-free. */
#include "args.h"

#include <string.h>

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

bool stub_hex_u64(struct stub_cursor *c, uint64_t *out)
{
    uint64_t v = 0;
    int digits = 0;
    while (c->p < c->end && hexval(*c->p) >= 0) {
        if (digits == 16)
            return false; /* more than 64 bits */
        v = (v << 4) | (uint64_t)hexval(*c->p);
        c->p++;
        digits++;
    }
    *out = v;
    return digits > 0;
}

bool stub_expect(struct stub_cursor *c, char ch)
{
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return true;
    }
    return false;
}

bool stub_hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t n)
{
    if (hexlen != 2 * n)
        return false;
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

bool stub_parse_addr_len(const char *a, size_t n, uint64_t *addr, uint64_t *len)
{
    struct stub_cursor c = { a, a + n };
    return stub_hex_u64(&c, addr) && stub_expect(&c, ',') && stub_hex_u64(&c, len) &&
           c.p == c.end;
}

bool stub_parse_addr_len_data(const char *a, size_t n, uint64_t *addr, uint64_t *len,
                              const char **data, size_t *data_len)
{
    struct stub_cursor c = { a, a + n };
    if (!(stub_hex_u64(&c, addr) && stub_expect(&c, ',') && stub_hex_u64(&c, len) &&
          stub_expect(&c, ':')))
        return false;
    *data = c.p;
    *data_len = (size_t)(c.end - c.p);
    return true;
}

bool stub_parse_z(const char *a, size_t n, int *type, uint64_t *addr, uint64_t *kind)
{
    struct stub_cursor c = { a, a + n };
    uint64_t t;
    if (!(stub_hex_u64(&c, &t) && t <= 4 && stub_expect(&c, ',') && stub_hex_u64(&c, addr) &&
          stub_expect(&c, ',') && stub_hex_u64(&c, kind)))
        return false;
    /* Conditions and commands (";X...") are accepted and ignored: gdb
     * evaluates them itself unless we advertise ConditionalBreakpoints. */
    if (c.p != c.end && *c.p != ';')
        return false;
    *type = (int)t;
    return true;
}

bool stub_parse_tid(struct stub_cursor *c, int64_t *tid)
{
    uint64_t v;
    if (stub_expect(c, '-')) {
        if (!stub_expect(c, '1'))
            return false;
        *tid = STUB_TID_ALL;
        return true;
    }
    if (stub_expect(c, 'p')) {
        /* multiprocess form pPID.TID: one process, keep the TID */
        if (stub_expect(c, '-')) {
            if (!stub_expect(c, '1'))
                return false;
        } else if (!stub_hex_u64(c, &v)) {
            return false;
        }
        if (!stub_expect(c, '.')) {
            *tid = STUB_TID_ALL;
            return true;
        }
        return stub_parse_tid(c, tid) ;
    }
    if (!stub_hex_u64(c, &v) || v > INT32_MAX)
        return false;
    *tid = (int64_t)v;
    return true;
}

int stub_parse_vcont(const char *a, size_t n, struct stub_vcont_action *acts, int max)
{
    struct stub_cursor c = { a, a + n };
    int count = 0;
    while (c.p < c.end) {
        if (!stub_expect(&c, ';') || c.p >= c.end || count >= max)
            return -1;
        struct stub_vcont_action *act = &acts[count];
        act->signal = -1;
        act->tid = STUB_TID_ALL;
        char op = *c.p++;
        uint64_t sig;
        switch (op) {
        case 'c': case 's': case 't':
            act->op = op;
            break;
        case 'C': case 'S':
            if (!stub_hex_u64(&c, &sig) || sig > 255)
                return -1;
            act->op = (char)(op - 'A' + 'a');
            act->signal = (int)sig;
            break;
        default:
            return -1;
        }
        if (stub_expect(&c, ':') && !stub_parse_tid(&c, &act->tid))
            return -1;
        count++;
    }
    return count > 0 ? count : -1;
}

bool stub_parse_p(const char *a, size_t n, uint64_t *regnum)
{
    struct stub_cursor c = { a, a + n };
    return stub_hex_u64(&c, regnum) && c.p == c.end;
}

bool stub_parse_P(const char *a, size_t n, uint64_t *regnum, uint8_t *val, size_t val_cap,
                  size_t *val_len)
{
    struct stub_cursor c = { a, a + n };
    if (!(stub_hex_u64(&c, regnum) && stub_expect(&c, '=')))
        return false;
    size_t hexlen = (size_t)(c.end - c.p);
    if (hexlen % 2 || hexlen / 2 > val_cap)
        return false;
    *val_len = hexlen / 2;
    return stub_hex_decode(c.p, hexlen, val, *val_len);
}

bool stub_parse_rcmd(const char *hex, size_t n, char *out, size_t cap)
{
    if (n % 2 || n / 2 + 1 > cap)
        return false;
    if (!stub_hex_decode(hex, n, (uint8_t *)out, n / 2))
        return false;
    out[n / 2] = '\0';
    return strlen(out) == n / 2; /* no embedded NUL */
}

static bool copy_field(struct stub_cursor *c, char *out, size_t cap)
{
    const char *colon = memchr(c->p, ':', (size_t)(c->end - c->p));
    if (!colon || (size_t)(colon - c->p) >= cap)
        return false;
    memcpy(out, c->p, (size_t)(colon - c->p));
    out[colon - c->p] = '\0';
    c->p = colon + 1;
    return true;
}

bool stub_parse_xfer_read(const char *a, size_t n, struct stub_xfer *x)
{
    struct stub_cursor c = { a, a + n };
    char op[8];
    return copy_field(&c, x->object, sizeof x->object) && copy_field(&c, op, sizeof op) &&
           strcmp(op, "read") == 0 && copy_field(&c, x->annex, sizeof x->annex) &&
           stub_hex_u64(&c, &x->offset) && stub_expect(&c, ',') &&
           stub_hex_u64(&c, &x->length) && c.p == c.end;
}
