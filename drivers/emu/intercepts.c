/*
 * Intercepts of sensitive instructions. Unicorn 2.0.1 has no hooks for MOV
 * CR/DR, RDMSR/WRMSR, LGDT/LIDT, XSETBV or VMCALL (DESIGN.md), and its CPUID
 * hook runs mid-block. So while such an intercept is on, a UC_HOOK_BLOCK
 * decodes each new translation block with capstone (cached by address and
 * content), and every sensitive instruction found gets a UC_HOOK_CODE on its
 * own address: the run stops before it executes, with RIP on it. The same
 * sites implement debug-register execution breakpoints (DR0-3/DR7).
 */
#include <stdlib.h>
#include <string.h>

#include "emu.h"

#define SCAN_CAP 4096
#define SITE_KINDS                                                                             \
    ((1u << MICROVMI_EVENT_CR) | (1u << MICROVMI_EVENT_XCR) | (1u << MICROVMI_EVENT_DR) |      \
     (1u << MICROVMI_EVENT_MSR) | (1u << MICROVMI_EVENT_DESCRIPTOR) |                          \
     (1u << MICROVMI_EVENT_HYPERCALL) | (1u << MICROVMI_EVENT_CPUID))

static const enum microvmi_event_kind site_event[] = {
    [EMU_SITE_CR] = MICROVMI_EVENT_CR,           [EMU_SITE_XCR] = MICROVMI_EVENT_XCR,
    [EMU_SITE_DR] = MICROVMI_EVENT_DR,           [EMU_SITE_MSR] = MICROVMI_EVENT_MSR,
    [EMU_SITE_DESC] = MICROVMI_EVENT_DESCRIPTOR, [EMU_SITE_HYPERCALL] = MICROVMI_EVENT_HYPERCALL,
    [EMU_SITE_CPUID] = MICROVMI_EVENT_CPUID,     [EMU_SITE_DRBP] = MICROVMI_EVENT_EXCEPTION,
};

int emu_uc_gpr(unsigned cs_reg)
{
    static const struct { unsigned cs; int uc; } map[] = {
        {X86_REG_RAX, UC_X86_REG_RAX}, {X86_REG_RBX, UC_X86_REG_RBX}, {X86_REG_RCX, UC_X86_REG_RCX},
        {X86_REG_RDX, UC_X86_REG_RDX}, {X86_REG_RSI, UC_X86_REG_RSI}, {X86_REG_RDI, UC_X86_REG_RDI},
        {X86_REG_RBP, UC_X86_REG_RBP}, {X86_REG_RSP, UC_X86_REG_RSP}, {X86_REG_R8, UC_X86_REG_R8},
        {X86_REG_R9, UC_X86_REG_R9},   {X86_REG_R10, UC_X86_REG_R10}, {X86_REG_R11, UC_X86_REG_R11},
        {X86_REG_R12, UC_X86_REG_R12}, {X86_REG_R13, UC_X86_REG_R13}, {X86_REG_R14, UC_X86_REG_R14},
        {X86_REG_R15, UC_X86_REG_R15},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (map[i].cs == cs_reg)
            return map[i].uc;
    return UC_X86_REG_INVALID;
}

static uint64_t edx_eax(struct emu_vcpu *v)
{
    return (emu_reg(v, UC_X86_REG_RDX) << 32) | (emu_reg(v, UC_X86_REG_RAX) & 0xffffffffull);
}

static uint64_t cr_value(struct emu_vcpu *v, unsigned n)
{
    switch (n) {
    case 0: return emu_reg(v, UC_X86_REG_CR0);
    case 2: return emu_reg(v, UC_X86_REG_CR2);
    case 3: return emu_reg(v, UC_X86_REG_CR3);
    case 4: return emu_reg(v, UC_X86_REG_CR4);
    default: return 0; /* CR8: no local APIC, the priority is 0 */
    }
}

static void on_site(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    struct emu_site *s = user;
    struct emu_vcpu *v = s->vcpu;
    (void)uc;
    (void)size;
    if (v->ev_ready || v->dead || v->skip_addr == addr)
        return;
    const struct emu_filter *f = &v->filter[site_event[s->kind]];
    uint64_t value = s->reg ? emu_reg(v, emu_uc_gpr(s->reg)) : 0;
    switch (s->kind) {
    case EMU_SITE_CR:
        if (!emu_filter_match(f, s->index))
            return;
        emu_event_begin(v, MICROVMI_EVENT_CR, addr);
        v->ev.u.cr.index = s->index;
        v->ev.u.cr.old_value = cr_value(v, s->index);
        v->ev.u.cr.new_value = value;
        break;
    case EMU_SITE_XCR: {
        uint32_t index = (uint32_t)emu_reg(v, UC_X86_REG_RCX);
        if (!emu_filter_match(f, index))
            return;
        emu_event_begin(v, MICROVMI_EVENT_XCR, addr);
        v->ev.u.xcr.index = index;
        v->ev.u.xcr.old_value = index == 0 ? v->xcr0 : 0;
        v->ev.u.xcr.new_value = edx_eax(v);
        break;
    }
    case EMU_SITE_DR:
        if (!emu_filter_match(f, s->index))
            return;
        emu_event_begin(v, MICROVMI_EVENT_DR, addr);
        v->ev.u.dr.index = s->index;
        v->ev.u.dr.write = s->write;
        v->ev.u.dr.value = s->write ? value : emu_reg(v, UC_X86_REG_DR0 + s->index);
        break;
    case EMU_SITE_MSR: {
        uint32_t index = (uint32_t)emu_reg(v, UC_X86_REG_RCX);
        if (!emu_filter_match(f, index))
            return;
        emu_event_begin(v, MICROVMI_EVENT_MSR, addr);
        v->ev.u.msr.index = index;
        v->ev.u.msr.write = s->write;
        v->ev.u.msr.value = s->write ? edx_eax(v) : emu_msr(v, index);
        break;
    }
    case EMU_SITE_DESC:
        if (!emu_filter_match(f, s->index))
            return;
        emu_event_begin(v, MICROVMI_EVENT_DESCRIPTOR, addr);
        v->ev.u.descriptor.which = (enum microvmi_descriptor)s->index;
        v->ev.u.descriptor.write = s->write;
        v->ev.u.descriptor.insn_len = s->len;
        break;
    case EMU_SITE_HYPERCALL:
        if (!emu_filter_on(f))
            return;
        emu_event_begin(v, MICROVMI_EVENT_HYPERCALL, addr);
        v->ev.u.hypercall.nr = emu_reg(v, UC_X86_REG_RAX);
        v->ev.u.hypercall.insn_len = s->len;
        break;
    case EMU_SITE_CPUID:
        if (!emu_filter_on(f))
            return;
        emu_event_begin(v, MICROVMI_EVENT_CPUID, addr);
        v->ev.u.cpuid.leaf = (uint32_t)emu_reg(v, UC_X86_REG_RAX);
        v->ev.u.cpuid.subleaf = (uint32_t)emu_reg(v, UC_X86_REG_RCX);
        v->ev.u.cpuid.insn_len = s->len;
        break;
    case EMU_SITE_DRBP:
        /* An execution breakpoint is a fault: #DB before the instruction. */
        emu_set_reg(v, UC_X86_REG_DR6, emu_reg(v, UC_X86_REG_DR6) | (1ull << s->index));
        if (!emu_filter_match(f, 1)) {
            if (!emu_deliver(v, 1, false, 0, addr, true)) {
                v->dead = true;
            } else {
                v->restart = true;
            }
            uc_emu_stop(v->uc);
            return;
        }
        emu_event_begin(v, MICROVMI_EVENT_EXCEPTION, addr);
        v->ev.u.exception.vector = 1;
        break;
    }
    emu_event_stop(v);
}

/* ------------------------------------------------------------ site list */

static struct emu_site *site_add(struct emu_vcpu *v, const struct emu_site *tmpl)
{
    if (v->nsites == v->capsites) {
        size_t cap = v->capsites ? v->capsites * 2 : 16;
        struct emu_site **n = realloc(v->sites, cap * sizeof *n);
        if (!n)
            return NULL;
        v->sites = n;
        v->capsites = cap;
    }
    struct emu_site *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    *s = *tmpl;
    s->vcpu = v;
    if (uc_hook_add(v->uc, &s->hook, UC_HOOK_CODE, (void *)on_site, s, s->addr, s->addr) !=
        UC_ERR_OK) {
        free(s);
        return NULL;
    }
    v->sites[v->nsites++] = s;
    return s;
}

static bool site_exists(const struct emu_vcpu *v, uint64_t addr, enum emu_site_kind kind)
{
    for (size_t i = 0; i < v->nsites; i++)
        if (v->sites[i]->addr == addr && v->sites[i]->kind == kind)
            return true;
    return false;
}

/* Remove sites: all of them (drbp true) or all but DR breakpoints. */
static void sites_remove(struct emu_vcpu *v, bool drbp_too, int only_drbp_index)
{
    size_t keep = 0;
    for (size_t i = 0; i < v->nsites; i++) {
        struct emu_site *s = v->sites[i];
        bool is_bp = s->kind == EMU_SITE_DRBP;
        bool drop = only_drbp_index >= 0 ? (is_bp && s->index == only_drbp_index)
                                         : (!is_bp || drbp_too);
        if (drop) {
            uc_hook_del(v->uc, s->hook);
            emu_invalidate_vcpu(v, s->addr, 1);
            free(s);
        } else {
            v->sites[keep++] = s;
        }
    }
    v->nsites = keep;
}

void emu_sites_clear(struct emu_vcpu *v)
{
    if (v->uc)
        sites_remove(v, true, -1);
    for (int i = 0; i < 4; i++)
        v->drbp_applied[i] = EMU_NO_ADDR;
}

void emu_drbp_sync(struct emu_vcpu *v)
{
    uint64_t dr7 = emu_reg(v, UC_X86_REG_DR7);
    for (int i = 0; i < 4; i++) {
        bool on = ((dr7 >> (2 * i)) & 3) && ((dr7 >> (16 + 4 * i)) & 3) == 0;
        uint64_t want = on ? emu_reg(v, UC_X86_REG_DR0 + i) : EMU_NO_ADDR;
        if (want == v->drbp_applied[i])
            continue;
        sites_remove(v, false, i);
        v->drbp_applied[i] = EMU_NO_ADDR;
        if (want != EMU_NO_ADDR) {
            struct emu_site t = {.addr = want, .kind = EMU_SITE_DRBP, .index = (uint8_t)i};
            if (site_add(v, &t)) {
                v->drbp_applied[i] = want;
                emu_invalidate_vcpu(v, want, 1);
            }
        }
    }
}

/* ---------------------------------------------------------- block scan */

/* Per block execution, so it must be cheap: the block's size and its first
 * and last 8 bytes. Host writes drop the cache (emu_scan_forget); guest
 * self-modifying code that keeps both ends is the blind spot. */
static uint64_t block_key(const uint8_t *p, size_t n)
{
    uint64_t a = 0, b = 0;
    memcpy(&a, p, n < 8 ? n : 8);
    if (n > 8)
        memcpy(&b, p + n - (n < 16 ? n - 8 : 8), 8);
    return (a * 0x9e3779b97f4a7c15ull) ^ (b + n);
}

void emu_scan_forget(struct emu *emu)
{
    if (emu->scan)
        memset(emu->scan, 0, emu->scan_cap * sizeof *emu->scan);
}

static void classify(const cs_insn *in, struct emu_scan_entry *e)
{
    struct emu_site s = {.addr = in->address, .len = (uint8_t)in->size};
    const cs_x86 *x = &in->detail->x86;
    switch (in->id) {
    case X86_INS_MOV:
        if (x->op_count != 2 || x->operands[0].type != X86_OP_REG ||
            x->operands[1].type != X86_OP_REG)
            return;
        if (x->operands[0].reg >= X86_REG_CR0 && x->operands[0].reg <= X86_REG_CR15) {
            s.kind = EMU_SITE_CR;
            s.index = (uint8_t)(x->operands[0].reg - X86_REG_CR0);
            s.reg = (uint16_t)x->operands[1].reg;
            s.write = true;
        } else if (x->operands[0].reg >= X86_REG_DR0 && x->operands[0].reg <= X86_REG_DR15) {
            s.kind = EMU_SITE_DR;
            s.index = (uint8_t)(x->operands[0].reg - X86_REG_DR0);
            s.reg = (uint16_t)x->operands[1].reg;
            s.write = true;
        } else if (x->operands[1].reg >= X86_REG_DR0 && x->operands[1].reg <= X86_REG_DR15) {
            s.kind = EMU_SITE_DR;
            s.index = (uint8_t)(x->operands[1].reg - X86_REG_DR0);
        } else {
            return;
        }
        break;
    case X86_INS_WRMSR: s.kind = EMU_SITE_MSR; s.write = true; break;
    case X86_INS_RDMSR: s.kind = EMU_SITE_MSR; break;
    case X86_INS_XSETBV: s.kind = EMU_SITE_XCR; break;
    case X86_INS_LGDT: s.kind = EMU_SITE_DESC; s.index = MICROVMI_DESC_GDTR; s.write = true; break;
    case X86_INS_LIDT: s.kind = EMU_SITE_DESC; s.index = MICROVMI_DESC_IDTR; s.write = true; break;
    case X86_INS_LLDT: s.kind = EMU_SITE_DESC; s.index = MICROVMI_DESC_LDTR; s.write = true; break;
    case X86_INS_LTR: s.kind = EMU_SITE_DESC; s.index = MICROVMI_DESC_TR; s.write = true; break;
    case X86_INS_SGDT: s.kind = EMU_SITE_DESC; s.index = MICROVMI_DESC_GDTR; break;
    case X86_INS_SIDT: s.kind = EMU_SITE_DESC; s.index = MICROVMI_DESC_IDTR; break;
    case X86_INS_SLDT: s.kind = EMU_SITE_DESC; s.index = MICROVMI_DESC_LDTR; break;
    case X86_INS_STR: s.kind = EMU_SITE_DESC; s.index = MICROVMI_DESC_TR; break;
    case X86_INS_VMCALL:
    case X86_INS_VMMCALL: s.kind = EMU_SITE_HYPERCALL; break;
    case X86_INS_CPUID: s.kind = EMU_SITE_CPUID; break;
    default: return;
    }
    if (e->nsites < sizeof e->sites / sizeof e->sites[0])
        e->sites[e->nsites++] = s;
}

static const struct emu_scan_entry *scan_block(struct emu *emu, uint64_t addr, uint32_t size)
{
    if (!emu->scan || !size || !emu_gpa_ok(emu, addr, size))
        return NULL;
    const uint8_t *code = emu->ram + addr;
    uint64_t h = block_key(code, size);
    struct emu_scan_entry *e = &emu->scan[(addr ^ (addr >> 12)) % emu->scan_cap];
    if (e->addr == addr && e->size == size && e->hash == h)
        return e;
    memset(e, 0, sizeof *e);
    e->addr = addr;
    e->size = size;
    e->hash = h;
    cs_insn *insn = NULL;
    size_t n = cs_disasm(emu->cs, code, size, addr, 0, &insn);
    for (size_t i = 0; i < n; i++)
        if (insn[i].detail)
            classify(&insn[i], e);
    if (insn)
        cs_free(insn, n);
    return e;
}

void emu_scan_block(struct emu_vcpu *v, uint64_t addr, uint32_t size)
{
    const struct emu_scan_entry *e = scan_block(v->emu, addr, size);
    if (!e || !e->nsites)
        return;
    bool added = false;
    for (uint32_t i = 0; i < e->nsites; i++) {
        const struct emu_site *t = &e->sites[i];
        if (!emu_filter_on(&v->filter[site_event[t->kind]]) || site_exists(v, t->addr, t->kind))
            continue;
        if (site_add(v, t)) {
            emu_invalidate_vcpu(v, t->addr, 1);
            added = true;
        }
    }
    if (added) {
        /* This block was translated without the new hooks: nothing of it has
         * run yet, so start it again from its first instruction. */
        v->restart = true;
        uc_emu_stop(v->uc);
    }
}

/* ------------------------------------------------------------- toggles */

static bool kind_supported(enum microvmi_event_kind k)
{
    return k >= MICROVMI_EVENT_CR && k <= MICROVMI_EVENT_MEMORY;
}

static void filter_set(struct emu_filter *f, uint32_t index, bool enabled)
{
    if (index == MICROVMI_ANY) {
        f->any = enabled;
        if (!enabled)
            f->n = 0;
        return;
    }
    for (uint32_t i = 0; i < f->n; i++) {
        if (f->idx[i] == index) {
            if (!enabled)
                f->idx[i] = f->idx[--f->n];
            return;
        }
    }
    if (enabled && f->n < EMU_FILTER_MAX)
        f->idx[f->n++] = index;
}

void emu_intercepts_refresh(struct emu *emu)
{
    bool want = false;
    for (uint32_t i = 0; i < emu->nvcpus; i++)
        for (unsigned k = 0; k < MICROVMI_EVENT_KIND_COUNT; k++)
            if ((SITE_KINDS & (1u << k)) && emu_filter_on(&emu->vcpu[i].filter[k]))
                want = true;
    if (want && !emu->scan) {
        emu->scan = calloc(SCAN_CAP, sizeof *emu->scan);
        emu->scan_cap = emu->scan ? SCAN_CAP : 0;
    }
    for (uint32_t i = 0; i < emu->nvcpus; i++) {
        struct emu_vcpu *v = &emu->vcpu[i];
        if (!want)
            sites_remove(v, false, -1);
        /* Blocks translated before were not scanned (or carry stale sites):
         * retranslate them, cheaply, page by page. */
        emu_invalidate_all(v);
    }
    emu->scan_on = want;
}

enum microvmi_status emu_toggle_intercept(struct emu *emu, uint32_t vcpu,
                                          const struct microvmi_intercept *what, bool enabled)
{
    if (!kind_supported(what->kind))
        return microvmi_fail(emu->vm, MICROVMI_NOT_SUPPORTED,
                             "emu: no intercept of kind %s (its events come on their own)",
                             microvmi_event_kind_str(what->kind));
    if (vcpu != MICROVMI_ALL_VCPUS && vcpu >= emu->nvcpus)
        return microvmi_fail(emu->vm, MICROVMI_INVALID_ARG, "emu: no vCPU %u (the VM has %u)",
                             vcpu, emu->nvcpus);
    if (what->kind == MICROVMI_EVENT_MEMORY)
        return MICROVMI_OK; /* memory events follow set_page_access */
    emu_quiesce(emu);
    for (uint32_t i = 0; i < emu->nvcpus; i++) {
        if (vcpu != MICROVMI_ALL_VCPUS && vcpu != i)
            continue;
        struct emu_vcpu *v = &emu->vcpu[i];
        if (what->kind == MICROVMI_EVENT_SINGLESTEP)
            v->singlestep = enabled;
        else
            filter_set(&v->filter[what->kind], what->index, enabled);
    }
    if (SITE_KINDS & (1u << what->kind))
        emu_intercepts_refresh(emu);
    emu_unquiesce(emu);
    return MICROVMI_OK;
}

void emu_intercepts_close(struct emu *emu)
{
    for (uint32_t i = 0; i < emu->nvcpus; i++) {
        struct emu_vcpu *v = &emu->vcpu[i];
        memset(v->filter, 0, sizeof v->filter);
        v->singlestep = false;
    }
    emu_intercepts_refresh(emu);
}
