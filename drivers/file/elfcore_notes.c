/*
 * Registers from an ELF core's notes, as QEMU's dump-guest-memory writes
 * them (target/i386/arch_dump.c): NT_PRSTATUS in its x86-64 or i386 layout,
 * and the "QEMU" note (QEMUCPUState) with segments, descriptor tables and
 * control registers. Little-endian fields, read at fixed offsets.
 */
#include <string.h>

#include "file.h"

/* NT_PRSTATUS sizes and where pr_reg starts in each layout. */
#define PRSTATUS64_SIZE 336
#define PRSTATUS64_REGS 112
#define PRSTATUS32_SIZE 144
#define PRSTATUS32_REGS 72

/* QEMUCPUState: version, size, 18 u64 registers, 10 segments of 24 bytes,
 * cr[5], and (newer QEMU) kernel_gs_base. */
#define QEMU_STATE_GPRS 8
#define QEMU_STATE_SEGS 152
#define QEMU_SEG_SIZE 24
#define QEMU_STATE_CRS 392
#define QEMU_STATE_KGS 432
#define QEMU_STATE_MIN 432

static uint64_t le64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

bool file_note_prstatus64(const unsigned char *desc, size_t len, struct microvmi_x86_regs *r)
{
    if (len < PRSTATUS64_SIZE)
        return false;
    const unsigned char *g = desc + PRSTATUS64_REGS;
    /* user_regs_struct order: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx
     * rdx rsi rdi orig_rax rip cs eflags rsp ss fs_base gs_base ds es fs gs */
    uint64_t *dst[] = { &r->r15, &r->r14, &r->r13, &r->r12, &r->rbp, &r->rbx, &r->r11,
                        &r->r10, &r->r9,  &r->r8,  &r->rax, &r->rcx, &r->rdx, &r->rsi,
                        &r->rdi, NULL,    &r->rip, NULL,    &r->rflags, &r->rsp };
    for (size_t i = 0; i < sizeof dst / sizeof dst[0]; i++)
        if (dst[i])
            *dst[i] = le64(g + 8 * i);
    r->cs.selector = (uint16_t)le64(g + 8 * 17);
    r->ss.selector = (uint16_t)le64(g + 8 * 20);
    r->fs.base = le64(g + 8 * 21);
    r->gs.base = le64(g + 8 * 22);
    r->ds.selector = (uint16_t)le64(g + 8 * 23);
    r->es.selector = (uint16_t)le64(g + 8 * 24);
    r->fs.selector = (uint16_t)le64(g + 8 * 25);
    r->gs.selector = (uint16_t)le64(g + 8 * 26);
    r->present |= MICROVMI_REGS_GPR;
    return true;
}

bool file_note_prstatus32(const unsigned char *desc, size_t len, struct microvmi_x86_regs *r)
{
    if (len < PRSTATUS32_SIZE)
        return false;
    const unsigned char *g = desc + PRSTATUS32_REGS;
    /* ebx ecx edx esi edi ebp eax ds es fs gs orig_eax eip cs eflags esp ss */
    r->rbx = le32(g + 0), r->rcx = le32(g + 4), r->rdx = le32(g + 8);
    r->rsi = le32(g + 12), r->rdi = le32(g + 16), r->rbp = le32(g + 20);
    r->rax = le32(g + 24);
    r->ds.selector = (uint16_t)le32(g + 28), r->es.selector = (uint16_t)le32(g + 32);
    r->fs.selector = (uint16_t)le32(g + 36), r->gs.selector = (uint16_t)le32(g + 40);
    r->rip = le32(g + 48);
    r->cs.selector = (uint16_t)le32(g + 52);
    r->rflags = le32(g + 56);
    r->rsp = le32(g + 60);
    r->ss.selector = (uint16_t)le32(g + 64);
    r->present |= MICROVMI_REGS_GPR;
    return true;
}

/* QEMU keeps descriptor flags as in the descriptor's high dword (type at
 * bit 8 ... G at bit 23); microvmi packs them VMX-style (type at bit 0). */
static void segment(const unsigned char *s, struct microvmi_segment *out)
{
    uint32_t flags = le32(s + 8);
    out->selector = (uint16_t)le32(s);
    out->limit = le32(s + 4);
    out->attributes = (uint16_t)(((flags >> 8) & 0xff) | (((flags >> 20) & 0xf) << 8));
    out->base = le64(s + 16);
}

bool file_note_qemu_cpustate(const unsigned char *desc, size_t len, struct microvmi_x86_regs *r)
{
    if (len < QEMU_STATE_MIN)
        return false;
    uint32_t size = le32(desc + 4);
    if (size < QEMU_STATE_MIN || size > len)
        return false;
    uint64_t *gpr[] = { &r->rax, &r->rbx, &r->rcx, &r->rdx, &r->rsi, &r->rdi,
                        &r->rsp, &r->rbp, &r->r8,  &r->r9,  &r->r10, &r->r11,
                        &r->r12, &r->r13, &r->r14, &r->r15, &r->rip, &r->rflags };
    for (size_t i = 0; i < sizeof gpr / sizeof gpr[0]; i++)
        *gpr[i] = le64(desc + QEMU_STATE_GPRS + 8 * i);
    struct microvmi_segment *segs[] = { &r->cs, &r->ds, &r->es, &r->fs, &r->gs,
                                        &r->ss, &r->ldtr, &r->tr };
    for (size_t i = 0; i < sizeof segs / sizeof segs[0]; i++)
        segment(desc + QEMU_STATE_SEGS + QEMU_SEG_SIZE * i, segs[i]);
    struct microvmi_segment gdt, idt;
    segment(desc + QEMU_STATE_SEGS + QEMU_SEG_SIZE * 8, &gdt);
    segment(desc + QEMU_STATE_SEGS + QEMU_SEG_SIZE * 9, &idt);
    r->gdtr = (struct microvmi_dtable){ gdt.base, (uint16_t)gdt.limit };
    r->idtr = (struct microvmi_dtable){ idt.base, (uint16_t)idt.limit };
    r->cr0 = le64(desc + QEMU_STATE_CRS);
    r->cr2 = le64(desc + QEMU_STATE_CRS + 16);
    r->cr3 = le64(desc + QEMU_STATE_CRS + 24);
    r->cr4 = le64(desc + QEMU_STATE_CRS + 32);
    if (size >= QEMU_STATE_KGS + 8)
        r->kernel_gs_base = le64(desc + QEMU_STATE_KGS);
    r->present |= MICROVMI_REGS_GPR | MICROVMI_REGS_SEGMENTS | MICROVMI_REGS_CONTROL |
                  MICROVMI_REGS_DTABLES;
    return true;
}
