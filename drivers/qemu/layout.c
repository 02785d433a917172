/* Where guest RAM sits in guest-physical space, as QEMU itself says it in
 * `info mtree -f` (the below/above-4 GiB split, PAM'd BIOS areas, holes),
 * rather than guessing per machine type. */
#include <stdlib.h>
#include <string.h>

#include "layout.h"

/* One line of text: [*p, eol). */
static const char *line_end(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl ? nl : end;
}

static bool parse_hex(const char **p, const char *end, uint64_t *out)
{
    uint64_t v = 0;
    int digits = 0;
    while (*p < end) {
        char c = **p;
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            break;
        if (v >> 60)
            return false;
        v = v << 4 | (uint64_t)d;
        digits++;
        (*p)++;
    }
    *out = v;
    return digits > 0;
}

static bool starts(const char *p, const char *end, const char *s)
{
    size_t n = strlen(s);
    return (size_t)(end - p) >= n && memcmp(p, s, n) == 0;
}

/* "  0000000000100000-000000000fffffff (prio 0, ram): ram0 @0000000000100000" */
static bool parse_range(const char *p, const char *end, const char *region,
                        struct qemu_ram_range *out)
{
    while (p < end && *p == ' ')
        p++;
    uint64_t start, last;
    if (!parse_hex(&p, end, &start) || p >= end || *p++ != '-' || !parse_hex(&p, end, &last) ||
        last < start)
        return false;
    if (!starts(p, end, " (prio "))
        return false;
    const char *comma = memchr(p, ',', (size_t)(end - p));
    if (!comma)
        return false;
    p = comma + 1;
    while (p < end && *p == ' ')
        p++;
    if (starts(p, end, "nv-"))
        p += 3;
    if (!starts(p, end, "ram): ") && !starts(p, end, "rom): "))
        return false;
    p += 6;
    size_t rl = strlen(region);
    if (!starts(p, end, region) || (p + rl < end && p[rl] != ' ' && p[rl] != '\r'))
        return false;
    p += rl;
    uint64_t offset = 0;
    if (starts(p, end, " @")) {
        p += 2;
        if (!parse_hex(&p, end, &offset))
            return false;
    }
    if (last - start == UINT64_MAX)
        return false;
    out->gpa = start;
    out->size = last - start + 1;
    out->offset = offset;
    return out->offset + out->size >= out->offset;
}

static int by_gpa(const void *a, const void *b)
{
    const struct qemu_ram_range *x = a, *y = b;
    return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

bool qemu_layout_parse_mtree(const char *text, size_t len, const char *region,
                             struct qemu_layout *out)
{
    memset(out, 0, sizeof *out);
    if (!text || !region || !*region)
        return false;
    const char *p = text, *end = text + len;
    bool in_view = false, view_is_memory = false, done = false;
    while (p < end && !done) {
        const char *eol = line_end(p, end);
        if (starts(p, eol, "FlatView #")) {
            if (view_is_memory && out->count)
                done = true;
            in_view = true;
            view_is_memory = false;
        } else if (in_view && starts(p, eol, " AS \"memory\"")) {
            view_is_memory = true;
        } else if (view_is_memory && out->count < QEMU_MAX_RANGES) {
            struct qemu_ram_range r;
            if (parse_range(p, eol, region, &r))
                out->r[out->count++] = r;
        }
        p = eol < end ? eol + 1 : end;
    }
    qsort(out->r, out->count, sizeof out->r[0], by_gpa);
    /* Merge neighbours contiguous in both spaces; drop overlaps (bad input). */
    size_t n = 0;
    for (size_t i = 0; i < out->count; i++) {
        struct qemu_ram_range *r = &out->r[i];
        if (n) {
            struct qemu_ram_range *prev = &out->r[n - 1];
            if (r->gpa < prev->gpa + prev->size)
                continue;
            if (prev->gpa + prev->size == r->gpa && prev->offset + prev->size == r->offset) {
                prev->size += r->size;
                continue;
            }
        }
        out->r[n++] = *r;
    }
    out->count = n;
    return n > 0;
}

const struct qemu_ram_range *qemu_layout_find(const struct qemu_layout *l, uint64_t gpa)
{
    size_t lo = 0, hi = l->count;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const struct qemu_ram_range *r = &l->r[mid];
        if (gpa < r->gpa)
            hi = mid;
        else if (gpa - r->gpa >= r->size)
            lo = mid + 1;
        else
            return r;
    }
    return NULL;
}

uint64_t qemu_layout_end(const struct qemu_layout *l)
{
    return l->count ? l->r[l->count - 1].gpa + l->r[l->count - 1].size : 0;
}
