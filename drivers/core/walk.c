/*
 * x86 guest page-table walk (Intel SDM vol. 3 ch. 4): 32-bit, PAE, 4-level
 * and 5-level paging; 4 KiB, 2 MiB, 4 MiB and 1 GiB pages; effective
 * R/W, U/S and XD over all levels; reserved bits checked per entry format.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "walk.h"

#define P_BIT (1ull << 0)
#define RW_BIT (1ull << 1)
#define US_BIT (1ull << 2)
#define PS_BIT (1ull << 7)
#define XD_BIT (1ull << 63)

#define KiB 1024ull
#define MiB (1024ull * KiB)
#define GiB (1024ull * MiB)

/* One level of a paging structure. */
struct level {
    const char *name;
    unsigned shift;       /* lowest gva bit this level indexes */
    unsigned index_bits;  /* 9, 10 (32-bit), 2 (PAE PDPT) */
    unsigned entry_size;  /* 4 or 8 bytes */
    uint64_t large_page;  /* page size when PS=1 is a leaf, 0 when PS is reserved/ignored */
    bool perms;           /* carries R/W, U/S, XD bits (not the PAE PDPTE) */
};

static const struct level lv_pml5 = { "PML5E", 48, 9, 8, 0, true };
static const struct level lv_pml4 = { "PML4E", 39, 9, 8, 0, true };
static const struct level lv_pdpt = { "PDPTE", 30, 9, 8, 1 * GiB, true };
static const struct level lv_pd = { "PDE", 21, 9, 8, 2 * MiB, true };
static const struct level lv_pt = { "PTE", 12, 9, 8, 0, true };
static const struct level lv_pae_pdpt = { "PDPTE", 30, 2, 8, 0, false };
static const struct level lv_32_pd = { "PDE", 22, 10, 4, 4 * MiB, true };
static const struct level lv_32_pt = { "PTE", 12, 10, 4, 0, true };

struct walk {
    const struct microvmi_address_space *as;
    uint64_t gva;
    unsigned maxphy;
    char *err;
    size_t errlen;
};

static uint64_t bits(unsigned hi, unsigned lo) /* mask of bits hi..lo inclusive */
{
    return (hi >= 63 ? ~0ull : ((1ull << (hi + 1)) - 1)) & ~((1ull << lo) - 1);
}

/* Reserved bits of an entry at level l, given whether it maps a large page. */
static uint64_t reserved_mask(const struct walk *w, const struct level *l, bool large)
{
    unsigned m = w->maxphy;
    if (w->as->mode == MICROVMI_PAGING_32BIT) {
        if (!large)
            return 0;
        /* 4 MiB PDE: bits 20:13 hold PA bits 39:32 (up to MAXPHYADDR), bit 21 reserved. */
        unsigned top = m > 40 ? 40 : m;
        uint64_t r = 1ull << 21;
        if (top < 40)
            r |= bits(20, 13 + (top - 32));
        return r;
    }
    uint64_t r = 0;
    if (w->as->mode == MICROVMI_PAGING_PAE) {
        if (l == &lv_pae_pdpt)
            return bits(63, m) | bits(8, 5) | bits(2, 1);
        r |= bits(62, m);
    } else {
        r |= m < 52 ? bits(51, m) : 0;
        if (l == &lv_pml4 || l == &lv_pml5)
            r |= PS_BIT;
    }
    if (!w->as->nxe)
        r |= XD_BIT;
    if (large)
        r |= bits(__builtin_ctzll(l->large_page) - 1, 13);
    return r;
}

static enum microvmi_status fault(struct walk *w, const struct level *l, uint64_t at,
                                  uint64_t entry, const char *what)
{
    snprintf(w->err, w->errlen,
             "GVA 0x%" PRIx64 " does not map: %s at GPA 0x%" PRIx64 " %s (entry 0x%" PRIx64
             ", CR3 0x%" PRIx64 ")",
             w->gva, l->name, at, what, entry, w->as->cr3);
    return MICROVMI_TRANSLATION_FAULT;
}

static enum microvmi_status check_address(struct walk *w)
{
    uint64_t gva = w->gva;
    switch (w->as->mode) {
    case MICROVMI_PAGING_32BIT:
    case MICROVMI_PAGING_PAE:
        if (gva >> 32) {
            snprintf(w->err, w->errlen,
                     "GVA 0x%" PRIx64 " is above 4 GiB in a 32-bit address space", gva);
            return MICROVMI_TRANSLATION_FAULT;
        }
        return MICROVMI_OK;
    case MICROVMI_PAGING_4LEVEL:
    case MICROVMI_PAGING_5LEVEL: {
        unsigned top = w->as->mode == MICROVMI_PAGING_4LEVEL ? 47 : 56;
        int64_t sext = (int64_t)(gva << (63 - top)) >> (63 - top);
        if ((uint64_t)sext != gva) {
            snprintf(w->err, w->errlen,
                     "GVA 0x%" PRIx64 " is not canonical for %s paging (bits 63:%u must "
                     "equal bit %u)",
                     gva, top == 47 ? "4-level" : "5-level", top, top);
            return MICROVMI_TRANSLATION_FAULT;
        }
        return MICROVMI_OK;
    }
    default:
        snprintf(w->err, w->errlen, "unknown paging mode %d", (int)w->as->mode);
        return MICROVMI_INVALID_ARG;
    }
}

enum microvmi_status microvmi_walk(const struct microvmi_address_space *as,
                                   microvmi_walk_read_fn read, void *opaque, uint64_t gva,
                                   struct microvmi_translation *tr, char *errbuf, size_t errlen)
{
    char dummy[1];
    if (!errbuf || !errlen) {
        errbuf = dummy;
        errlen = sizeof dummy;
    }
    errbuf[0] = '\0';
    if (!as || !read || !tr) {
        snprintf(errbuf, errlen, "walk: address space, reader or result is NULL");
        return MICROVMI_INVALID_ARG;
    }
    memset(tr, 0, sizeof *tr);
    tr->gva = gva;
    if (as->mode == MICROVMI_PAGING_NONE) {
        tr->gpa = gva;
        tr->page_size = 4 * KiB;
        tr->writable = tr->user = true;
        return MICROVMI_OK;
    }
    struct walk w = { as, gva, as->maxphyaddr ? as->maxphyaddr : 52, errbuf, errlen };
    if (w.maxphy < 32 || w.maxphy > 52) {
        snprintf(errbuf, errlen, "maxphyaddr %u is outside 32..52", w.maxphy);
        return MICROVMI_INVALID_ARG;
    }
    enum microvmi_status st = check_address(&w);
    if (st != MICROVMI_OK)
        return st;

    const struct level *chain[5];
    size_t n = 0;
    uint64_t table;
    uint64_t addr_mask = bits(w.maxphy - 1, 12);
    switch (as->mode) {
    case MICROVMI_PAGING_32BIT:
        chain[n++] = &lv_32_pd;
        chain[n++] = &lv_32_pt;
        table = as->cr3 & bits(31, 12);
        addr_mask = bits(31, 12);
        break;
    case MICROVMI_PAGING_PAE:
        chain[n++] = &lv_pae_pdpt;
        chain[n++] = &lv_pd;
        chain[n++] = &lv_pt;
        table = as->cr3 & bits(31, 5);
        break;
    case MICROVMI_PAGING_5LEVEL:
        chain[n++] = &lv_pml5;
        /* fall through */
    default:
        chain[n++] = &lv_pml4;
        chain[n++] = &lv_pdpt;
        chain[n++] = &lv_pd;
        chain[n++] = &lv_pt;
        table = as->cr3 & addr_mask;
        break;
    }

    bool writable = true, user = true, nx = false;
    for (size_t i = 0; i < n; i++) {
        const struct level *l = chain[i];
        uint64_t index = (gva >> l->shift) & ((1ull << l->index_bits) - 1);
        uint64_t at = table + index * l->entry_size;
        uint64_t entry = 0;
        unsigned char raw[8] = { 0 };
        st = read(opaque, at, raw, l->entry_size);
        if (st != MICROVMI_OK) {
            snprintf(errbuf, errlen,
                     "GVA 0x%" PRIx64 ": cannot read %s at GPA 0x%" PRIx64 ": %s", gva, l->name,
                     at, microvmi_status_str(st));
            return st;
        }
        for (unsigned b = 0; b < l->entry_size; b++) /* entries are little-endian */
            entry |= (uint64_t)raw[b] << (8 * b);
        tr->entries[tr->levels++] = entry;
        if (!(entry & P_BIT))
            return fault(&w, l, at, entry, "is not present");

        bool pse_allowed = as->mode != MICROVMI_PAGING_32BIT || as->pse;
        bool large = l->large_page && (entry & PS_BIT) && pse_allowed;
        uint64_t rsvd = reserved_mask(&w, l, large) & entry;
        if (rsvd) {
            char what[80];
            snprintf(what, sizeof what, "has reserved bits 0x%" PRIx64 " set", rsvd);
            return fault(&w, l, at, entry, what);
        }
        if (l->perms) {
            writable = writable && (entry & RW_BIT);
            user = user && (entry & US_BIT);
            nx = nx || (as->nxe && (entry & XD_BIT));
        }
        if (large || i == n - 1) {
            uint64_t size = large ? l->large_page : 4 * KiB;
            uint64_t base = entry & addr_mask & ~(size - 1);
            if (large && as->mode == MICROVMI_PAGING_32BIT)
                base = (entry & bits(31, 22)) | (((entry >> 13) & 0xff) << 32);
            tr->gpa = base | (gva & (size - 1));
            tr->page_size = size;
            tr->writable = writable;
            tr->user = user;
            tr->nx = nx;
            return MICROVMI_OK;
        }
        table = entry & addr_mask;
    }
    return MICROVMI_INVALID_ARG; /* unreachable: the last level is always a leaf */
}
