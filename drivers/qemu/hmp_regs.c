/* HMP `info registers`: the only place QEMU shows segment bases, limits and
 * attributes, GDTR/IDTR and DR0-7 (its gdbstub has none of them). The text
 * is for humans, so parse it defensively: every field by its name. */
#include <string.h>

#include "hmp_regs.h"

struct cursor {
    const char *p, *end;
};

static bool is_ident(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static void skip_spaces(struct cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r'))
        c->p++;
}

static bool hex(struct cursor *c, uint64_t *out)
{
    skip_spaces(c);
    uint64_t v = 0;
    int n = 0;
    while (c->p < c->end) {
        char ch = *c->p;
        int d = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;
        if (d < 0 || n == 16)
            break;
        v = v << 4 | (uint64_t)d;
        n++;
        c->p++;
    }
    *out = v;
    return n > 0;
}

/* Read "NAME =" at the cursor; name gets up to cap-1 chars. */
static bool key(struct cursor *c, char *name, size_t cap)
{
    skip_spaces(c);
    size_t n = 0;
    while (c->p < c->end && is_ident(*c->p)) {
        if (n + 1 < cap)
            name[n++] = *c->p;
        c->p++;
    }
    name[n] = 0;
    skip_spaces(c);
    if (!n || c->p >= c->end || *c->p != '=')
        return false;
    c->p++;
    return true;
}

unsigned qemu_seg_flags_to_attr(unsigned long flags)
{
    return (unsigned)(((flags >> 8) & 0xff) | ((flags >> 12) & 0xf00));
}

struct found {
    unsigned gpr, seg, ctl, dbg, dt, rip, efer;
};

static uint64_t *gpr_slot(struct microvmi_x86_regs *r, const char *name, unsigned *bit)
{
    static const char *const n64[] = { "RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "RSP",
                                       "R8", "R9", "R10", "R11", "R12", "R13", "R14", "R15" };
    static const char *const n32[] = { "EAX", "EBX", "ECX", "EDX", "ESI", "EDI", "EBP", "ESP" };
    uint64_t *slots[] = { &r->rax, &r->rbx, &r->rcx, &r->rdx, &r->rsi, &r->rdi, &r->rbp, &r->rsp,
                          &r->r8, &r->r9, &r->r10, &r->r11, &r->r12, &r->r13, &r->r14, &r->r15 };
    for (unsigned i = 0; i < 16; i++) {
        if (!strcmp(name, n64[i]) || (i < 8 && !strcmp(name, n32[i]))) {
            *bit = 1u << i;
            return slots[i];
        }
    }
    return NULL;
}

static struct microvmi_segment *seg_slot(struct microvmi_x86_regs *r, const char *name,
                                         unsigned *bit)
{
    static const char *const names[] = { "ES", "CS", "SS", "DS", "FS", "GS", "LDT", "TR" };
    struct microvmi_segment *slots[] = { &r->es, &r->cs, &r->ss, &r->ds,
                                         &r->fs, &r->gs, &r->ldtr, &r->tr };
    for (unsigned i = 0; i < 8; i++) {
        if (!strcmp(name, names[i])) {
            *bit = 1u << i;
            return slots[i];
        }
    }
    return NULL;
}

static void scalar(struct microvmi_x86_regs *r, struct found *f, const char *name, uint64_t v)
{
    unsigned bit;
    uint64_t *g = gpr_slot(r, name, &bit);
    if (g) {
        *g = v;
        f->gpr |= bit;
        return;
    }
    static const char *const ctl[] = { "CR0", "CR2", "CR3", "CR4" };
    uint64_t *cs[] = { &r->cr0, &r->cr2, &r->cr3, &r->cr4 };
    for (unsigned i = 0; i < 4; i++)
        if (!strcmp(name, ctl[i])) {
            *cs[i] = v;
            f->ctl |= 1u << i;
            return;
        }
    static const char *const dbg[] = { "DR0", "DR1", "DR2", "DR3", "DR6", "DR7" };
    uint64_t *ds[] = { &r->dr0, &r->dr1, &r->dr2, &r->dr3, &r->dr6, &r->dr7 };
    for (unsigned i = 0; i < 6; i++)
        if (!strcmp(name, dbg[i])) {
            *ds[i] = v;
            f->dbg |= 1u << i;
            return;
        }
    if (!strcmp(name, "RIP") || !strcmp(name, "EIP")) {
        r->rip = v;
        f->rip = 1;
    } else if (!strcmp(name, "RFL")) {
        r->rflags = v;
        f->rip |= 2;
    } else if (!strcmp(name, "EFER")) {
        r->efer = v;
        f->efer = 1;
    }
}

/* "CS =0010 0000000000000000 ffffffff 00af9b00 DPL=0 CS64 [-RA]" */
static void segment_line(struct cursor *c, struct microvmi_segment *s, struct found *f,
                         unsigned bit)
{
    uint64_t sel, base, limit, flags;
    if (!hex(c, &sel) || !hex(c, &base) || !hex(c, &limit) || !hex(c, &flags))
        return;
    s->selector = (uint16_t)sel;
    s->base = base;
    s->limit = (uint32_t)limit;
    s->attributes = (uint16_t)qemu_seg_flags_to_attr((unsigned long)flags);
    f->seg |= bit;
}

static void dtable_line(struct cursor *c, struct microvmi_dtable *t, struct found *f,
                        unsigned bit)
{
    uint64_t base, limit;
    if (!hex(c, &base) || !hex(c, &limit))
        return;
    t->base = base;
    t->limit = (uint16_t)limit;
    f->dt |= bit;
}

/* Any other line: "A=x B=y [flags] C=z ..." pairs by name. */
static void pairs_line(struct cursor *c, struct microvmi_x86_regs *r, struct found *f)
{
    while (c->p < c->end) {
        char name[16];
        const char *before = c->p;
        if (key(c, name, sizeof name)) {
            uint64_t v;
            if (hex(c, &v))
                scalar(r, f, name, v);
        }
        /* skip to the next word */
        while (c->p < c->end && *c->p != ' ')
            c->p++;
        if (c->p == before)
            c->p++;
    }
}

bool qemu_hmp_parse_regs(const char *text, size_t len, struct microvmi_x86_regs *regs)
{
    struct found f = { 0 };
    const char *p = text, *end = text + len;
    int cpu_blocks = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        if ((size_t)(eol - p) >= 4 && !memcmp(p, "CPU#", 4) && ++cpu_blocks > 1)
            break;
        struct cursor c = { p, eol };
        char name[16];
        unsigned bit;
        struct microvmi_segment *s;
        if (key(&c, name, sizeof name) && (s = seg_slot(regs, name, &bit)))
            segment_line(&c, s, &f, bit);
        else if (!strcmp(name, "GDT"))
            dtable_line(&c, &regs->gdtr, &f, 1);
        else if (!strcmp(name, "IDT"))
            dtable_line(&c, &regs->idtr, &f, 2);
        else {
            c.p = p;
            pairs_line(&c, regs, &f);
        }
        p = nl ? nl + 1 : end;
    }
    if (f.gpr == 0xffff || f.gpr == 0xff) {
        if (f.rip == 3)
            regs->present |= MICROVMI_REGS_GPR;
    }
    if (f.seg == 0xff)
        regs->present |= MICROVMI_REGS_SEGMENTS;
    if (f.ctl == 0xf)
        regs->present |= MICROVMI_REGS_CONTROL;
    if (f.dbg == 0x3f)
        regs->present |= MICROVMI_REGS_DEBUG;
    if (f.dt == 3)
        regs->present |= MICROVMI_REGS_DTABLES;
    if (f.efer)
        regs->present |= MICROVMI_REGS_MSRS;
    return (f.rip & 1) != 0;
}
