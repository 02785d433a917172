/* Z2/Z3/Z4: watchpoints of any length. Every page the range touches loses
 * the watched permission in SLAT view 0 (write: W; read/access: R and W,
 * since write-only is not a valid EPT entry). Accesses to those pages raise
 * memory events; events.c reports only those overlapping a watched range of
 * the right kind and lets the others through. Pages keep their original
 * permission and reference counts so overlapping watches compose. */
#include "stub.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PAGE 4096u
/* Upper bound on pages one watchpoint may cover (1 GiB). */
#define MAX_WATCH_PAGES (1u << 18)

static struct stub_page *page_find(struct stub *s, uint64_t gfn)
{
    for (size_t i = 0; i < s->npages; i++)
        if (s->pages[i].gfn == gfn)
            return &s->pages[i];
    return NULL;
}

static enum microvmi_access wanted(const struct stub_page *p)
{
    enum microvmi_access a = p->orig;
    if (p->w_refs)
        a &= ~MICROVMI_ACCESS_W;
    if (p->r_refs)
        a &= ~(MICROVMI_ACCESS_R | MICROVMI_ACCESS_W);
    return a;
}

static int page_ref(struct stub *s, uint64_t gfn, int type, int delta)
{
    struct stub_page *p = page_find(s, gfn);
    if (!p) {
        if (delta < 0)
            return 0;
        struct stub_page *pages =
            stub_reserve(s->pages, &s->cappages, s->npages, sizeof *pages, 32);
        if (!pages)
            return ENOMEM;
        s->pages = pages;
        p = &s->pages[s->npages];
        *p = (struct stub_page){ .gfn = gfn, .orig = MICROVMI_ACCESS_RWX };
        if (microvmi_get_page_access(s->vm, 0, gfn, &p->orig) != MICROVMI_OK)
            p->orig = MICROVMI_ACCESS_RWX;
        s->npages++;
    }
    if (type == 2 || type == 4)
        p->w_refs += (uint32_t)delta;
    if (type == 3 || type == 4)
        p->r_refs += (uint32_t)delta;
    enum microvmi_status st = microvmi_set_page_access(s->vm, 0, gfn, wanted(p));
    if (!p->r_refs && !p->w_refs)
        *p = s->pages[--s->npages]; /* back to its original: forget it */
    return st == MICROVMI_OK ? 0 : EIO;
}

static void release(struct stub *s, struct stub_watch *w)
{
    if (w->native) {
        enum microvmi_native_kind k = w->type == 2 ? MICROVMI_NATIVE_WATCH_WRITE
                                    : w->type == 3 ? MICROVMI_NATIVE_WATCH_READ
                                                   : MICROVMI_NATIVE_WATCH_ACCESS;
        microvmi_native_breakpoint(s->vm, k, w->addr, w->len, false);
    }
    for (size_t i = 0; i < w->nsegs; i++)
        page_ref(s, w->segs[i].gpa / PAGE, w->type, -1);
    free(w->segs);
    w->segs = NULL;
    w->nsegs = 0;
}

int stub_watch_insert(struct stub *s, int type, uint64_t addr, uint64_t len)
{
    if (len == 0 || addr + len < addr)
        return EINVAL;
    struct stub_watch *watches =
        stub_reserve(s->watches, &s->capwatches, s->nwatches, sizeof *watches, 8);
    if (!watches)
        return ENOMEM;
    s->watches = watches;
    struct stub_watch *w = &s->watches[s->nwatches];
    *w = (struct stub_watch){ .type = type, .addr = addr, .len = len };
    if (!(s->caps & MICROVMI_CAP_EVENT_MEMORY)) {
        if (!(s->caps & MICROVMI_CAP_NATIVE_WATCHPOINT))
            return ENOSYS;
        enum microvmi_native_kind k = type == 2 ? MICROVMI_NATIVE_WATCH_WRITE
                                    : type == 3 ? MICROVMI_NATIVE_WATCH_READ
                                                : MICROVMI_NATIVE_WATCH_ACCESS;
        if (microvmi_native_breakpoint(s->vm, k, addr, len, true) != MICROVMI_OK)
            return EIO;
        w->native = true;
        s->nwatches++;
        return 0;
    }
    uint64_t first = addr / PAGE, last = (addr + len - 1) / PAGE;
    if (last - first + 1 > MAX_WATCH_PAGES)
        return E2BIG;
    w->segs = calloc((size_t)(last - first + 1), sizeof *w->segs);
    if (!w->segs)
        return ENOMEM;
    for (uint64_t pg = first; pg <= last; pg++) {
        uint64_t from = pg == first ? addr : pg * PAGE;
        uint64_t to = pg == last ? addr + len : (pg + 1) * PAGE;
        uint64_t gpa;
        int err = 0;
        if (stub_gva_to_gpa(s, s->g_vcpu, from, &gpa) != MICROVMI_OK)
            err = EFAULT;
        else
            err = page_ref(s, gpa / PAGE, type, +1);
        if (err) {
            release(s, w);
            return err;
        }
        w->segs[w->nsegs++] = (struct stub_watch_seg){ from, gpa, to - from };
    }
    s->nwatches++;
    return 0;
}

int stub_watch_remove(struct stub *s, int type, uint64_t addr, uint64_t len)
{
    for (size_t i = 0; i < s->nwatches; i++) {
        struct stub_watch *w = &s->watches[i];
        if (w->type == type && w->addr == addr && w->len == len) {
            release(s, w);
            s->watches[i] = s->watches[--s->nwatches];
            return 0;
        }
    }
    return 0;
}

bool stub_watch_match(struct stub *s, uint64_t gpa, uint64_t size, enum microvmi_access access,
                      int *type, uint64_t *report_addr)
{
    if (size == 0)
        size = 1;
    for (size_t i = 0; i < s->nwatches; i++) {
        const struct stub_watch *w = &s->watches[i];
        bool kind_ok = (w->type == 2 && (access & MICROVMI_ACCESS_W)) ||
                       (w->type == 3 && (access & MICROVMI_ACCESS_R)) ||
                       (w->type == 4 && (access & MICROVMI_ACCESS_RW));
        if (!kind_ok)
            continue;
        for (size_t k = 0; k < w->nsegs; k++) {
            const struct stub_watch_seg *g = &w->segs[k];
            if (gpa < g->gpa + g->len && g->gpa < gpa + size) {
                uint64_t start = gpa > g->gpa ? gpa : g->gpa;
                *type = w->type;
                *report_addr = g->gva + (start - g->gpa);
                return true;
            }
        }
    }
    return false;
}

bool stub_watch_lift(struct stub *s, uint64_t gfn)
{
    struct stub_page *p = page_find(s, gfn);
    return p && microvmi_set_page_access(s->vm, 0, gfn, p->orig) == MICROVMI_OK;
}

void stub_watch_protect(struct stub *s, uint64_t gfn)
{
    struct stub_page *p = page_find(s, gfn);
    if (p)
        microvmi_set_page_access(s->vm, 0, gfn, wanted(p));
}

void stub_watch_remove_all(struct stub *s)
{
    for (size_t i = 0; i < s->nwatches; i++)
        release(s, &s->watches[i]);
    s->nwatches = 0;
    /* Whatever is left (should be nothing) goes back to its original. */
    for (size_t i = 0; i < s->npages; i++)
        microvmi_set_page_access(s->vm, 0, s->pages[i].gfn, s->pages[i].orig);
    s->npages = 0;
}
