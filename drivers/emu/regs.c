/*
 * Registers of one engine as struct microvmi_x86_regs. Unicorn 2.0.1 gives
 * segment selectors but not their cached descriptors: attributes, limits and
 * bases come from the guest's GDT (FS/GS bases from their MSRs).
 */
#include <string.h>

#include "emu.h"

#define MSR_EFER 0xc0000080u
#define MSR_STAR 0xc0000081u
#define MSR_LSTAR 0xc0000082u
#define MSR_CSTAR 0xc0000083u
#define MSR_SFMASK 0xc0000084u
#define MSR_KERNEL_GS_BASE 0xc0000102u
#define MSR_SYSENTER_CS 0x174u
#define MSR_SYSENTER_ESP 0x175u
#define MSR_SYSENTER_EIP 0x176u
/* Far above any guest RAM and non-canonical for nothing: a scratch page. */
#define TLB_FLUSH_PAGE 0x7ffffffff000ull

uint64_t emu_reg(struct emu_vcpu *v, int reg)
{
    uint64_t value = 0;
    uc_reg_read(v->uc, reg, &value);
    return value;
}

void emu_set_reg(struct emu_vcpu *v, int reg, uint64_t value)
{
    uc_reg_write(v->uc, reg, &value);
}

uint64_t emu_msr(struct emu_vcpu *v, uint32_t index)
{
    uc_x86_msr m = {.rid = index, .value = 0};
    uc_reg_read(v->uc, UC_X86_REG_MSR, &m);
    return m.value;
}

void emu_set_msr(struct emu_vcpu *v, uint32_t index, uint64_t value)
{
    uc_x86_msr m = {.rid = index, .value = value};
    uc_reg_write(v->uc, UC_X86_REG_MSR, &m);
}

/* Writing CR0/CR3/CR4 through uc_reg_write does not flush Unicorn's TLB;
 * mapping a region does. */
void emu_flush_tlb(struct emu_vcpu *v)
{
    if (uc_mem_map(v->uc, TLB_FLUSH_PAGE, MICROVMI_PAGE_SIZE, UC_PROT_READ) == UC_ERR_OK)
        uc_mem_unmap(v->uc, TLB_FLUSH_PAGE, MICROVMI_PAGE_SIZE);
}

static void segment_from_gdt(struct emu_vcpu *v, const uc_x86_mmr *gdtr, uint16_t sel,
                             struct microvmi_segment *s)
{
    memset(s, 0, sizeof *s);
    s->selector = sel;
    uint64_t off = sel & ~7u;
    if ((sel & 4) || off == 0 || off + 7 > gdtr->limit)
        return;
    uint64_t d = 0;
    if (!emu_gpa_ok(v->emu, gdtr->base + off, 8))
        return;
    memcpy(&d, v->emu->ram + gdtr->base + off, 8);
    s->base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
    uint32_t limit = (uint32_t)((d & 0xffff) | (((d >> 48) & 0xf) << 16));
    s->attributes = (uint16_t)(((d >> 40) & 0xff) | (((d >> 52) & 0xf) << 8));
    s->limit = (s->attributes & (1u << 11)) ? (limit << 12) | 0xfff : limit;
}

static void segment_from_mmr(const uc_x86_mmr *m, struct microvmi_segment *s)
{
    s->base = m->base;
    s->limit = m->limit;
    s->selector = m->selector;
    s->attributes = (uint16_t)(((m->flags >> 8) & 0xff) | (((m->flags >> 20) & 0xf) << 8));
}

static const int gpr_ids[] = {
    UC_X86_REG_RAX, UC_X86_REG_RBX, UC_X86_REG_RCX, UC_X86_REG_RDX, UC_X86_REG_RSI,
    UC_X86_REG_RDI, UC_X86_REG_RBP, UC_X86_REG_RSP, UC_X86_REG_R8,  UC_X86_REG_R9,
    UC_X86_REG_R10, UC_X86_REG_R11, UC_X86_REG_R12, UC_X86_REG_R13, UC_X86_REG_R14,
    UC_X86_REG_R15, UC_X86_REG_RIP, UC_X86_REG_RFLAGS,
};

static uint64_t *gpr_slots(struct microvmi_x86_regs *r, size_t i)
{
    uint64_t *slots[] = {&r->rax, &r->rbx, &r->rcx, &r->rdx, &r->rsi, &r->rdi,
                         &r->rbp, &r->rsp, &r->r8,  &r->r9,  &r->r10, &r->r11,
                         &r->r12, &r->r13, &r->r14, &r->r15, &r->rip, &r->rflags};
    return slots[i];
}

static void read_fpu(struct emu_vcpu *v, struct microvmi_fpu *f)
{
    f->fcw = (uint16_t)emu_reg(v, UC_X86_REG_FPCW);
    f->fsw = (uint16_t)emu_reg(v, UC_X86_REG_FPSW);
    f->ftw = (uint16_t)emu_reg(v, UC_X86_REG_FPTAG);
    f->fop = (uint16_t)emu_reg(v, UC_X86_REG_FOP);
    f->fcs = (uint16_t)emu_reg(v, UC_X86_REG_FCS);
    f->fds = (uint16_t)emu_reg(v, UC_X86_REG_FDS);
    f->fip = emu_reg(v, UC_X86_REG_FIP);
    f->fdp = emu_reg(v, UC_X86_REG_FDP);
    f->mxcsr = (uint32_t)emu_reg(v, UC_X86_REG_MXCSR);
    for (int i = 0; i < 8; i++) {
        uint8_t st[16] = {0};
        uc_reg_read(v->uc, UC_X86_REG_ST0 + i, st);
        memcpy(f->st[i], st, 10);
    }
    for (int i = 0; i < 16; i++) {
        uint8_t x[16] = {0};
        uc_reg_read(v->uc, UC_X86_REG_XMM0 + i, x);
        memcpy(f->xmm[i], x, 16);
    }
}

static void write_fpu(struct emu_vcpu *v, const struct microvmi_fpu *f)
{
    uint16_t w = f->fcw;
    uc_reg_write(v->uc, UC_X86_REG_FPCW, &w);
    w = f->fsw;
    uc_reg_write(v->uc, UC_X86_REG_FPSW, &w);
    w = f->ftw;
    uc_reg_write(v->uc, UC_X86_REG_FPTAG, &w);
    w = f->fop;
    uc_reg_write(v->uc, UC_X86_REG_FOP, &w);
    w = f->fcs;
    uc_reg_write(v->uc, UC_X86_REG_FCS, &w);
    w = f->fds;
    uc_reg_write(v->uc, UC_X86_REG_FDS, &w);
    emu_set_reg(v, UC_X86_REG_FIP, f->fip);
    emu_set_reg(v, UC_X86_REG_FDP, f->fdp);
    uint32_t mx = f->mxcsr;
    uc_reg_write(v->uc, UC_X86_REG_MXCSR, &mx);
    for (int i = 0; i < 8; i++) {
        uint8_t st[16] = {0};
        memcpy(st, f->st[i], 10);
        uc_reg_write(v->uc, UC_X86_REG_ST0 + i, st);
    }
    for (int i = 0; i < 16; i++) {
        uint8_t x[16];
        memcpy(x, f->xmm[i], 16);
        uc_reg_write(v->uc, UC_X86_REG_XMM0 + i, x);
    }
}

enum microvmi_status emu_read_regs(struct emu_vcpu *v, struct microvmi_x86_regs *r)
{
    memset(r, 0, sizeof *r);
    for (size_t i = 0; i < sizeof gpr_ids / sizeof gpr_ids[0]; i++)
        *gpr_slots(r, i) = emu_reg(v, gpr_ids[i]);
    uc_x86_mmr gdtr = {0}, idtr = {0}, ldtr = {0}, tr = {0};
    uc_reg_read(v->uc, UC_X86_REG_GDTR, &gdtr);
    uc_reg_read(v->uc, UC_X86_REG_IDTR, &idtr);
    uc_reg_read(v->uc, UC_X86_REG_LDTR, &ldtr);
    uc_reg_read(v->uc, UC_X86_REG_TR, &tr);
    segment_from_gdt(v, &gdtr, (uint16_t)emu_reg(v, UC_X86_REG_CS), &r->cs);
    segment_from_gdt(v, &gdtr, (uint16_t)emu_reg(v, UC_X86_REG_SS), &r->ss);
    segment_from_gdt(v, &gdtr, (uint16_t)emu_reg(v, UC_X86_REG_DS), &r->ds);
    segment_from_gdt(v, &gdtr, (uint16_t)emu_reg(v, UC_X86_REG_ES), &r->es);
    segment_from_gdt(v, &gdtr, (uint16_t)emu_reg(v, UC_X86_REG_FS), &r->fs);
    segment_from_gdt(v, &gdtr, (uint16_t)emu_reg(v, UC_X86_REG_GS), &r->gs);
    r->cs.base = r->ds.base = r->es.base = r->ss.base = 0; /* long mode ignores them */
    r->fs.base = emu_reg(v, UC_X86_REG_FS_BASE);
    r->gs.base = emu_reg(v, UC_X86_REG_GS_BASE);
    segment_from_mmr(&ldtr, &r->ldtr);
    segment_from_mmr(&tr, &r->tr);
    r->gdtr.base = gdtr.base;
    r->gdtr.limit = (uint16_t)gdtr.limit;
    r->idtr.base = idtr.base;
    r->idtr.limit = (uint16_t)idtr.limit;
    r->cr0 = emu_reg(v, UC_X86_REG_CR0);
    r->cr2 = emu_reg(v, UC_X86_REG_CR2);
    r->cr3 = emu_reg(v, UC_X86_REG_CR3);
    r->cr4 = emu_reg(v, UC_X86_REG_CR4);
    r->cr8 = 0; /* no local APIC: the task priority is always 0 */
    r->xcr0 = v->xcr0;
    r->dr0 = emu_reg(v, UC_X86_REG_DR0);
    r->dr1 = emu_reg(v, UC_X86_REG_DR1);
    r->dr2 = emu_reg(v, UC_X86_REG_DR2);
    r->dr3 = emu_reg(v, UC_X86_REG_DR3);
    r->dr6 = emu_reg(v, UC_X86_REG_DR6);
    r->dr7 = emu_reg(v, UC_X86_REG_DR7);
    r->efer = emu_msr(v, MSR_EFER);
    r->star = emu_msr(v, MSR_STAR);
    r->lstar = emu_msr(v, MSR_LSTAR);
    r->cstar = emu_msr(v, MSR_CSTAR);
    r->sfmask = emu_msr(v, MSR_SFMASK);
    r->sysenter_cs = emu_msr(v, MSR_SYSENTER_CS);
    r->sysenter_esp = emu_msr(v, MSR_SYSENTER_ESP);
    r->sysenter_eip = emu_msr(v, MSR_SYSENTER_EIP);
    r->kernel_gs_base = emu_msr(v, MSR_KERNEL_GS_BASE);
    read_fpu(v, &r->fpu);
    r->present = MICROVMI_REGS_GPR | MICROVMI_REGS_SEGMENTS | MICROVMI_REGS_CONTROL |
                 MICROVMI_REGS_XCR0 | MICROVMI_REGS_DEBUG | MICROVMI_REGS_MSRS |
                 MICROVMI_REGS_DTABLES | MICROVMI_REGS_FPU;
    return MICROVMI_OK;
}

static void write_selector(struct emu_vcpu *v, int reg, uint16_t sel)
{
    /* FS/GS writes reload the base from the GDT: only when really changed. */
    if ((uint16_t)emu_reg(v, reg) != sel)
        emu_set_reg(v, reg, sel);
}

enum microvmi_status emu_write_regs(struct emu_vcpu *v, const struct microvmi_x86_regs *r)
{
    bool flush = false;
    if (r->present & MICROVMI_REGS_GPR) {
        struct microvmi_x86_regs copy = *r;
        for (size_t i = 0; i < sizeof gpr_ids / sizeof gpr_ids[0]; i++)
            emu_set_reg(v, gpr_ids[i], *gpr_slots(&copy, i));
    }
    if (r->present & MICROVMI_REGS_SEGMENTS) {
        write_selector(v, UC_X86_REG_CS, r->cs.selector);
        write_selector(v, UC_X86_REG_SS, r->ss.selector);
        write_selector(v, UC_X86_REG_DS, r->ds.selector);
        write_selector(v, UC_X86_REG_ES, r->es.selector);
        write_selector(v, UC_X86_REG_FS, r->fs.selector);
        write_selector(v, UC_X86_REG_GS, r->gs.selector);
        emu_set_reg(v, UC_X86_REG_FS_BASE, r->fs.base);
        emu_set_reg(v, UC_X86_REG_GS_BASE, r->gs.base);
    }
    if (r->present & MICROVMI_REGS_CONTROL) {
        static const int ids[] = {UC_X86_REG_CR0, UC_X86_REG_CR3, UC_X86_REG_CR4};
        const uint64_t vals[] = {r->cr0, r->cr3, r->cr4};
        for (int i = 0; i < 3; i++) {
            if (emu_reg(v, ids[i]) != vals[i]) {
                emu_set_reg(v, ids[i], vals[i]);
                flush = true;
            }
        }
        emu_set_reg(v, UC_X86_REG_CR2, r->cr2);
    }
    if (r->present & MICROVMI_REGS_XCR0)
        v->xcr0 = r->xcr0;
    if (r->present & MICROVMI_REGS_DEBUG) {
        emu_set_reg(v, UC_X86_REG_DR0, r->dr0);
        emu_set_reg(v, UC_X86_REG_DR1, r->dr1);
        emu_set_reg(v, UC_X86_REG_DR2, r->dr2);
        emu_set_reg(v, UC_X86_REG_DR3, r->dr3);
        emu_set_reg(v, UC_X86_REG_DR6, r->dr6);
        emu_set_reg(v, UC_X86_REG_DR7, r->dr7);
    }
    if (r->present & MICROVMI_REGS_MSRS) {
        if (emu_msr(v, MSR_EFER) != r->efer) {
            emu_set_msr(v, MSR_EFER, r->efer);
            flush = true;
        }
        emu_set_msr(v, MSR_STAR, r->star);
        emu_set_msr(v, MSR_LSTAR, r->lstar);
        emu_set_msr(v, MSR_CSTAR, r->cstar);
        emu_set_msr(v, MSR_SFMASK, r->sfmask);
        emu_set_msr(v, MSR_SYSENTER_CS, r->sysenter_cs);
        emu_set_msr(v, MSR_SYSENTER_ESP, r->sysenter_esp);
        emu_set_msr(v, MSR_SYSENTER_EIP, r->sysenter_eip);
        emu_set_msr(v, MSR_KERNEL_GS_BASE, r->kernel_gs_base);
    }
    if (r->present & MICROVMI_REGS_DTABLES) {
        uc_x86_mmr g = {.base = r->gdtr.base, .limit = r->gdtr.limit};
        uc_x86_mmr i = {.base = r->idtr.base, .limit = r->idtr.limit};
        uc_reg_write(v->uc, UC_X86_REG_GDTR, &g);
        uc_reg_write(v->uc, UC_X86_REG_IDTR, &i);
    }
    if (r->present & MICROVMI_REGS_FPU)
        write_fpu(v, &r->fpu);
    if (flush)
        emu_flush_tlb(v);
    return MICROVMI_OK;
}
