/* A tolerant reader of gdb target-description XML: only <reg> and
 * <xi:include> matter; everything else is skipped. */
#include <stdlib.h>
#include <string.h>

#include "tdesc.h"

static const char *find(const char *p, const char *end, const char *s)
{
    size_t n = strlen(s);
    while ((size_t)(end - p) >= n) {
        const char *q = memchr(p, s[0], (size_t)(end - p) - n + 1);
        if (!q)
            return NULL;
        if (!memcmp(q, s, n))
            return q;
        p = q + 1;
    }
    return NULL;
}

/* attr="value" inside [p, end) (one tag); copies into out. */
static bool attr(const char *p, const char *end, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *q = p; q && q < end; q++) {
        q = find(q, end, name);
        if (!q)
            return false;
        if (q > p && q[-1] != ' ' && q[-1] != '\t' && q[-1] != '\n')
            continue;
        const char *v = q + n;
        if (v + 1 >= end || v[0] != '=' || (v[1] != '"' && v[1] != '\''))
            continue;
        char quote = v[1];
        v += 2;
        const char *close = memchr(v, quote, (size_t)(end - v));
        if (!close || (size_t)(close - v) >= cap)
            return false;
        memcpy(out, v, (size_t)(close - v));
        out[close - v] = 0;
        return true;
    }
    return false;
}

static bool parse_uint(const char *s, uint32_t *out)
{
    if (!*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > 65536)
            return false;
    }
    *out = (uint32_t)v;
    return true;
}

bool tdesc_parse_xml(struct tdesc *t, const char *xml, size_t len)
{
    const char *p = xml, *end = xml + len;
    bool ok = true;
    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        if (!lt)
            break;
        if ((size_t)(end - lt) >= 4 && !memcmp(lt, "<!--", 4)) {
            const char *c = find(lt + 4, end, "-->");
            p = c ? c + 3 : end;
            continue;
        }
        const char *gt = memchr(lt, '>', (size_t)(end - lt));
        if (!gt)
            break;
        if ((size_t)(gt - lt) > 5 && !memcmp(lt, "<reg", 4) && (lt[4] == ' ' || lt[4] == '\t')) {
            char name[sizeof t->regs[0].name], bits[16], num[16];
            uint32_t bitsize, regnum;
            if (!attr(lt, gt, "name", name, sizeof name) || !attr(lt, gt, "bitsize", bits, sizeof bits) ||
                !parse_uint(bits, &bitsize) || bitsize == 0 || bitsize % 8) {
                ok = false;
            } else if (t->count < TDESC_MAX_REGS) {
                regnum = t->next_regnum;
                if (attr(lt, gt, "regnum", num, sizeof num) && !parse_uint(num, &regnum))
                    ok = false;
                struct tdesc_reg *r = &t->regs[t->count++];
                memcpy(r->name, name, sizeof r->name);
                r->regnum = regnum;
                r->bytes = bitsize / 8;
                t->next_regnum = regnum + 1;
            }
        } else if ((size_t)(gt - lt) > 11 && !memcmp(lt, "<xi:include", 11)) {
            char href[sizeof t->includes[0]];
            if (attr(lt, gt, "href", href, sizeof href) && t->nincludes < TDESC_MAX_INCLUDES)
                memcpy(t->includes[t->nincludes++], href, sizeof href);
        }
        p = gt + 1;
    }
    return ok;
}

static int by_regnum(const void *a, const void *b)
{
    const struct tdesc_reg *x = a, *y = b;
    return x->regnum < y->regnum ? -1 : x->regnum > y->regnum;
}

void tdesc_finish(struct tdesc *t)
{
    qsort(t->regs, t->count, sizeof t->regs[0], by_regnum);
    uint32_t off = 0;
    for (size_t i = 0; i < t->count; i++) {
        t->regs[i].offset = off;
        off += t->regs[i].bytes;
    }
}

const struct tdesc_reg *tdesc_find(const struct tdesc *t, const char *name)
{
    for (size_t i = 0; i < t->count; i++)
        if (!strcmp(t->regs[i].name, name))
            return &t->regs[i];
    return NULL;
}
