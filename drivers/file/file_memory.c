/* Guest-physical reads and mappings served from the mapped dump file. */
#include <inttypes.h>
#include <string.h>

#include "file.h"

/* The segment holding gpa, or NULL (segments sorted by paddr). */
static const struct file_segment *find_segment(const struct file_core *core, uint64_t gpa)
{
    size_t lo = 0, hi = core->nsegs;
    while (lo < hi) { /* first segment with paddr > gpa */
        size_t mid = lo + (hi - lo) / 2;
        if (core->segs[mid].paddr <= gpa)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    const struct file_segment *s = &core->segs[lo - 1];
    return gpa - s->paddr < s->memsz ? s : NULL;
}

enum microvmi_status file_read_physical(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    struct file_ctx *f = ctx;
    unsigned char *out = buf;
    while (len) {
        const struct file_segment *s = find_segment(&f->core, gpa);
        if (!s)
            return microvmi_fail(f->vm, MICROVMI_NO_MEMORY_AT_ADDRESS,
                                 "the dump holds no memory at 0x%" PRIx64
                                 " (see `microvmi info` for its ranges)", gpa);
        uint64_t in = gpa - s->paddr;
        uint64_t avail = s->memsz - in;
        size_t n = avail < len ? (size_t)avail : len;
        size_t from_file = in < s->filesz ? (size_t)(s->filesz - in < n ? s->filesz - in : n) : 0;
        if (from_file)
            memcpy(out, f->map + s->offset + in, from_file);
        memset(out + from_file, 0, n - from_file);
        out += n;
        gpa += n;
        len -= n;
    }
    return MICROVMI_OK;
}

enum microvmi_status file_map_physical(void *ctx, uint64_t gpa, size_t len, bool writable,
                                       void **host)
{
    struct file_ctx *f = ctx;
    if (writable)
        return microvmi_fail(f->vm, MICROVMI_READ_ONLY,
                             "a memory dump is read-only: map it with writable=false");
    const struct file_segment *s = find_segment(&f->core, gpa);
    if (!s)
        return microvmi_fail(f->vm, MICROVMI_NO_MEMORY_AT_ADDRESS,
                             "the dump holds no memory at 0x%" PRIx64, gpa);
    uint64_t in = gpa - s->paddr;
    if (in >= s->filesz || len > s->filesz - in)
        return microvmi_fail(f->vm, MICROVMI_NOT_SUPPORTED,
                             "[0x%" PRIx64 ", +0x%zx) is not stored contiguously in the dump; "
                             "use read_physical for it", gpa, len);
    *host = (void *)(uintptr_t)(f->map + s->offset + in);
    return MICROVMI_OK;
}

enum microvmi_status file_unmap_physical(void *ctx, void *host, size_t len)
{
    (void)ctx, (void)host, (void)len; /* the whole file stays mapped until close */
    return MICROVMI_OK;
}

enum microvmi_status file_max_gfn(void *ctx, uint64_t *max_gfn)
{
    struct file_ctx *f = ctx;
    uint64_t top = 0;
    for (size_t i = 0; i < f->core.nsegs; i++) {
        const struct file_segment *s = &f->core.segs[i];
        uint64_t last = s->paddr + s->memsz - 1;
        if (last > top)
            top = last;
    }
    if (f->core.nsegs == 0)
        return microvmi_fail(f->vm, MICROVMI_NO_MEMORY_AT_ADDRESS, "the dump holds no memory");
    *max_gfn = top >> MICROVMI_PAGE_SHIFT;
    return MICROVMI_OK;
}
