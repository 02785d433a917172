/* Stepping without MTF or a native step: decode the instruction at rip with
 * capstone and put temporary breakpoints on every place it can go next
 * (fall-through, direct branch target, return address, indirect target). */
#include "stub.h"

#include <capstone/capstone.h>
#include <string.h>

static bool reg_value(const struct microvmi_x86_regs *r, unsigned reg, uint64_t *v)
{
    switch (reg) {
    case X86_REG_RAX: *v = r->rax; return true;
    case X86_REG_RBX: *v = r->rbx; return true;
    case X86_REG_RCX: *v = r->rcx; return true;
    case X86_REG_RDX: *v = r->rdx; return true;
    case X86_REG_RSI: *v = r->rsi; return true;
    case X86_REG_RDI: *v = r->rdi; return true;
    case X86_REG_RBP: *v = r->rbp; return true;
    case X86_REG_RSP: *v = r->rsp; return true;
    case X86_REG_R8: *v = r->r8; return true;
    case X86_REG_R9: *v = r->r9; return true;
    case X86_REG_R10: *v = r->r10; return true;
    case X86_REG_R11: *v = r->r11; return true;
    case X86_REG_R12: *v = r->r12; return true;
    case X86_REG_R13: *v = r->r13; return true;
    case X86_REG_R14: *v = r->r14; return true;
    case X86_REG_R15: *v = r->r15; return true;
    case X86_REG_RIP: *v = r->rip; return true;
    case X86_REG_INVALID: *v = 0; return true;
    default: return false;
    }
}

static bool read_u64(struct stub *s, uint32_t vcpu, uint64_t gva, uint64_t *v)
{
    struct microvmi_address_space as;
    return stub_address_space(s, vcpu, &as) == MICROVMI_OK &&
           microvmi_read_virtual(s->vm, &as, gva, v, sizeof *v, NULL) == MICROVMI_OK;
}

/* Where control may go after insn (besides falling through). */
static int targets(struct stub *s, uint32_t vcpu, const struct microvmi_x86_regs *r,
                   const cs_insn *insn, uint64_t *out)
{
    const cs_x86 *x = &insn->detail->x86;
    bool branch = false, is_ret = false;
    for (uint8_t i = 0; i < insn->detail->groups_count; i++) {
        uint8_t g = insn->detail->groups[i];
        branch |= g == CS_GRP_JUMP || g == CS_GRP_CALL;
        is_ret |= g == CS_GRP_RET || g == CS_GRP_IRET;
    }
    if (is_ret)
        return read_u64(s, vcpu, r->rsp, &out[0]) ? 1 : 0;
    if (!branch || x->op_count < 1)
        return 0;
    const cs_x86_op *op = &x->operands[0];
    uint64_t v, base, index;
    switch (op->type) {
    case X86_OP_IMM:
        out[0] = (uint64_t)op->imm;
        return 1;
    case X86_OP_REG:
        return reg_value(r, op->reg, &out[0]) ? 1 : 0;
    case X86_OP_MEM:
        if (!reg_value(r, op->mem.base, &base) || !reg_value(r, op->mem.index, &index))
            return 0;
        if (op->mem.base == X86_REG_RIP)
            base = insn->address + insn->size;
        v = base + index * (uint64_t)op->mem.scale + (uint64_t)op->mem.disp;
        return read_u64(s, vcpu, v, &out[0]) ? 1 : 0;
    default:
        return 0;
    }
}

bool stub_tempbp_step(struct stub *s, uint32_t vcpu)
{
    struct stub_vcpu *v = &s->vcpus[vcpu];
    struct microvmi_x86_regs r;
    struct microvmi_address_space as;
    uint8_t code[16];
    size_t got = 0;
    if (microvmi_read_registers(s->vm, vcpu, &r) != MICROVMI_OK ||
        stub_address_space(s, vcpu, &as) != MICROVMI_OK)
        return false;
    microvmi_read_virtual(s->vm, &as, r.rip, code, sizeof code, &got);
    /* gdb's own breakpoints may sit in the bytes: decode the originals */
    for (size_t i = 0; i < s->nswbps; i++)
        if (s->swbps[i].planted && s->swbps[i].addr >= r.rip && s->swbps[i].addr - r.rip < got)
            code[s->swbps[i].addr - r.rip] = s->swbps[i].orig;
    csh cs;
    if (got == 0 || cs_open(CS_ARCH_X86, CS_MODE_64, &cs) != CS_ERR_OK)
        return false;
    cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
    cs_insn *insn = NULL;
    bool ok = false;
    if (cs_disasm(cs, code, got, r.rip, 1, &insn) == 1) {
        uint64_t next[2];
        int n = 0;
        next[n++] = r.rip + insn->size;
        uint64_t t[1];
        if (targets(s, vcpu, &r, insn, t) == 1 && t[0] != next[0])
            next[n++] = t[0];
        v->ntempbp = 0;
        uint32_t saved = s->g_vcpu;
        s->g_vcpu = vcpu; /* translate in the stepping vCPU's address space */
        for (int i = 0; i < n; i++)
            if (stub_swbp_insert(s, next[i], true) == 0)
                v->tempbp[v->ntempbp++] = next[i];
        s->g_vcpu = saved;
        ok = v->ntempbp > 0;
        cs_free(insn, 1);
    }
    cs_close(&cs);
    return ok;
}

void stub_tempbp_clear(struct stub *s, uint32_t vcpu)
{
    struct stub_vcpu *v = &s->vcpus[vcpu];
    for (int i = 0; i < v->ntempbp; i++)
        stub_swbp_remove(s, v->tempbp[i], true);
    v->ntempbp = 0;
}
