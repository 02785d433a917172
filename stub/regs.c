/* Register marshalling: one table maps gdb's register numbers (the order of
 * xml/target.xml) to fields of struct microvmi_x86_regs. */
#include "regs.h"

#include <string.h>

enum reg_loc {
    LOC_U64,     /* a uint64_t field */
    LOC_U32_OF64, /* low 32 bits of a uint64_t field (eflags) */
    LOC_SEL,     /* a segment selector, widened to 32 bits */
    LOC_U16_32,  /* a uint16_t widened to 32 bits */
    LOC_U32,     /* a uint32_t */
    LOC_BYTES,   /* raw bytes (st, xmm) */
};

struct reg_map {
    struct stub_reg_desc desc;
    enum reg_loc loc;
    size_t offset;
    uint32_t group;
};

#define R(f) offsetof(struct microvmi_x86_regs, f)
#define F(f) (offsetof(struct microvmi_x86_regs, fpu) + offsetof(struct microvmi_fpu, f))
#define GP(n, f) { { n, 64 }, LOC_U64, R(f), MICROVMI_REGS_GPR }
#define SEG(n, f) { { n, 32 }, LOC_SEL, R(f.selector), MICROVMI_REGS_SEGMENTS }
#define ST(i) { { "st" #i, 80 }, LOC_BYTES, F(st[i]), MICROVMI_REGS_FPU }
#define XMM(i) { { "xmm" #i, 128 }, LOC_BYTES, F(xmm[i]), MICROVMI_REGS_FPU }

static const struct reg_map map[STUB_REG_COUNT] = {
    GP("rax", rax), GP("rbx", rbx), GP("rcx", rcx), GP("rdx", rdx),
    GP("rsi", rsi), GP("rdi", rdi), GP("rbp", rbp), GP("rsp", rsp),
    GP("r8", r8), GP("r9", r9), GP("r10", r10), GP("r11", r11),
    GP("r12", r12), GP("r13", r13), GP("r14", r14), GP("r15", r15),
    GP("rip", rip),
    { { "eflags", 32 }, LOC_U32_OF64, R(rflags), MICROVMI_REGS_GPR },
    SEG("cs", cs), SEG("ss", ss), SEG("ds", ds), SEG("es", es), SEG("fs", fs), SEG("gs", gs),
    ST(0), ST(1), ST(2), ST(3), ST(4), ST(5), ST(6), ST(7),
    { { "fctrl", 32 }, LOC_U16_32, F(fcw), MICROVMI_REGS_FPU },
    { { "fstat", 32 }, LOC_U16_32, F(fsw), MICROVMI_REGS_FPU },
    { { "ftag", 32 }, LOC_U16_32, F(ftw), MICROVMI_REGS_FPU },
    { { "fiseg", 32 }, LOC_U16_32, F(fcs), MICROVMI_REGS_FPU },
    { { "fioff", 32 }, LOC_U32_OF64, F(fip), MICROVMI_REGS_FPU },
    { { "foseg", 32 }, LOC_U16_32, F(fds), MICROVMI_REGS_FPU },
    { { "fooff", 32 }, LOC_U32_OF64, F(fdp), MICROVMI_REGS_FPU },
    { { "fop", 32 }, LOC_U16_32, F(fop), MICROVMI_REGS_FPU },
    XMM(0), XMM(1), XMM(2), XMM(3), XMM(4), XMM(5), XMM(6), XMM(7),
    XMM(8), XMM(9), XMM(10), XMM(11), XMM(12), XMM(13), XMM(14), XMM(15),
    { { "mxcsr", 32 }, LOC_U32, F(mxcsr), MICROVMI_REGS_FPU },
    { { "fs_base", 64 }, LOC_U64, R(fs.base), MICROVMI_REGS_SEGMENTS },
    { { "gs_base", 64 }, LOC_U64, R(gs.base), MICROVMI_REGS_SEGMENTS },
    { { "k_gs_base", 64 }, LOC_U64, R(kernel_gs_base), MICROVMI_REGS_MSRS },
    { { "cr0", 64 }, LOC_U64, R(cr0), MICROVMI_REGS_CONTROL },
    { { "cr2", 64 }, LOC_U64, R(cr2), MICROVMI_REGS_CONTROL },
    { { "cr3", 64 }, LOC_U64, R(cr3), MICROVMI_REGS_CONTROL },
    { { "cr4", 64 }, LOC_U64, R(cr4), MICROVMI_REGS_CONTROL },
    { { "cr8", 64 }, LOC_U64, R(cr8), MICROVMI_REGS_CONTROL },
    { { "efer", 64 }, LOC_U64, R(efer), MICROVMI_REGS_MSRS },
};

const struct stub_reg_desc *stub_reg_desc(size_t regnum)
{
    return regnum < STUB_REG_COUNT ? &map[regnum].desc : NULL;
}

size_t stub_regs_g_size(void)
{
    size_t total = 0;
    for (size_t i = 0; i < STUB_REG_COUNT; i++)
        total += map[i].desc.bits / 8;
    return total;
}

static void put_le(uint8_t *out, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *in, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)in[i] << (8 * i);
    return v;
}

bool stub_reg_get(const struct microvmi_x86_regs *regs, size_t regnum, uint8_t *out)
{
    if (regnum >= STUB_REG_COUNT)
        return false;
    const struct reg_map *m = &map[regnum];
    const unsigned char *base = (const unsigned char *)regs + m->offset;
    size_t n = m->desc.bits / 8;
    memset(out, 0, STUB_REG_MAX_BYTES);
    switch (m->loc) {
    case LOC_U64: case LOC_U32_OF64: {
        uint64_t v;
        memcpy(&v, base, sizeof v);
        put_le(out, v, n);
        break;
    }
    case LOC_SEL: case LOC_U16_32: {
        uint16_t v;
        memcpy(&v, base, sizeof v);
        put_le(out, v, n);
        break;
    }
    case LOC_U32: {
        uint32_t v;
        memcpy(&v, base, sizeof v);
        put_le(out, v, n);
        break;
    }
    case LOC_BYTES:
        memcpy(out, base, n);
        break;
    }
    return (regs->present & m->group) != 0;
}

uint32_t stub_reg_set(struct microvmi_x86_regs *regs, size_t regnum, const uint8_t *in)
{
    if (regnum >= STUB_REG_COUNT)
        return 0;
    const struct reg_map *m = &map[regnum];
    unsigned char *base = (unsigned char *)regs + m->offset;
    size_t n = m->desc.bits / 8;
    switch (m->loc) {
    case LOC_U64: {
        uint64_t v = get_le(in, n);
        memcpy(base, &v, sizeof v);
        break;
    }
    case LOC_U32_OF64: {
        uint64_t v;
        memcpy(&v, base, sizeof v);
        v = (v & ~0xffffffffull) | get_le(in, n);
        memcpy(base, &v, sizeof v);
        break;
    }
    case LOC_SEL: case LOC_U16_32: {
        uint16_t v = (uint16_t)get_le(in, 2);
        memcpy(base, &v, sizeof v);
        break;
    }
    case LOC_U32: {
        uint32_t v = (uint32_t)get_le(in, 4);
        memcpy(base, &v, sizeof v);
        break;
    }
    case LOC_BYTES:
        memcpy(base, in, n);
        break;
    }
    return m->group;
}
