/*
 * The hooks every engine always has, cheap because Unicorn only calls them
 * when something happens: exceptions and interrupts (UC_HOOK_INTR), invalid
 * opcodes (#UD), and SLAT permission faults. Each either becomes an event
 * (the run stops, the vCPU is held) or is delivered to the guest.
 */
#include <string.h>

#include "emu.h"

bool emu_filter_on(const struct emu_filter *f)
{
    return f->any || f->n > 0;
}

bool emu_filter_match(const struct emu_filter *f, uint32_t index)
{
    if (f->any)
        return true;
    for (uint32_t i = 0; i < f->n; i++)
        if (f->idx[i] == index)
            return true;
    return false;
}

void emu_event_begin(struct emu_vcpu *v, enum microvmi_event_kind kind, uint64_t rip)
{
    memset(&v->ev, 0, sizeof v->ev);
    v->ev.kind = kind;
    v->ev.rip = rip;
}

void emu_event_stop(struct emu_vcpu *v)
{
    v->ev_ready = true;
    uc_emu_stop(v->uc);
}

static void die(struct emu_vcpu *v)
{
    v->dead = true;
    uc_emu_stop(v->uc);
}

uint8_t emu_insn_len(struct emu_vcpu *v, uint64_t addr)
{
    struct emu *emu = v->emu;
    uint8_t buf[16];
    size_t n = sizeof buf;
    if (!emu_gpa_ok(emu, addr, 1))
        return 0;
    if (!emu_gpa_ok(emu, addr, n))
        n = (size_t)(emu->ram_size - addr);
    memcpy(buf, emu->ram + addr, n);
    cs_insn *insn = NULL;
    uint8_t len = 0;
    if (cs_disasm(emu->cs, buf, n, addr, 1, &insn) == 1)
        len = (uint8_t)insn->size;
    if (insn)
        cs_free(insn, 1);
    return len;
}

static uint8_t byte_at(struct emu *emu, uint64_t addr)
{
    return emu_gpa_ok(emu, addr, 1) ? emu->ram[addr] : 0;
}

/* The length of the software interrupt instruction that raised intno and
 * ended just before rip, or 0 for a hardware exception. */
static uint8_t soft_int_len(struct emu *emu, uint32_t intno, uint64_t rip)
{
    if (intno == 3 && byte_at(emu, rip - 1) == 0xcc)
        return 1;
    if (intno == 4 && byte_at(emu, rip - 1) == 0xce)
        return 1;
    if (intno == 1 && byte_at(emu, rip - 1) == 0xf1)
        return 1;
    if (byte_at(emu, rip - 2) == 0xcd && byte_at(emu, rip - 1) == intno)
        return 2;
    return 0;
}

/* #PF error code: Unicorn 2.0.1 does not expose it; rebuild it from the
 * page tables and the faulting instruction. */
static uint32_t pf_error_code(struct emu_vcpu *v, uint64_t rip, uint64_t cr2)
{
    struct emu *emu = v->emu;
    uint32_t ec = 0;
    uint64_t table = emu_reg(v, UC_X86_REG_CR3) & 0x000ffffffffff000ull;
    bool present = true, writable = true;
    for (int level = 3; level >= 0; level--) {
        uint64_t e = 0;
        uint64_t at = table + 8 * ((cr2 >> (12 + 9 * level)) & 511);
        if (!emu_gpa_ok(emu, at, 8)) {
            present = false;
            break;
        }
        memcpy(&e, emu->ram + at, 8);
        if (!(e & 1)) {
            present = false;
            break;
        }
        writable = writable && (e & 2);
        if (level > 0 && level < 3 && (e & 0x80))
            break;
        table = e & 0x000ffffffffff000ull;
    }
    if (present)
        ec |= 1;
    if ((emu_reg(v, UC_X86_REG_CS) & 3) == 3)
        ec |= 4;
    if (cr2 >= rip && cr2 < rip + 16) {
        ec |= 16;
        return ec;
    }
    if (present && !writable) {
        ec |= 2;
        return ec;
    }
    /* Not present: was it a write? Ask capstone about the memory operand. */
    uint8_t buf[16];
    if (emu_gpa_ok(emu, rip, sizeof buf)) {
        memcpy(buf, emu->ram + rip, sizeof buf);
        cs_insn *insn = NULL;
        if (cs_disasm(emu->cs, buf, sizeof buf, rip, 1, &insn) == 1 && insn->detail) {
            const cs_x86 *x = &insn->detail->x86;
            for (uint8_t i = 0; i < x->op_count; i++)
                if (x->operands[i].type == X86_OP_MEM && (x->operands[i].access & CS_AC_WRITE))
                    ec |= 2;
        }
        if (insn)
            cs_free(insn, 1);
    }
    return ec;
}

/* The single-step trap of our TF, or the end of a stepped instruction that
 * delivered an exception: what the step was for decides what happens. */
static void step_done(struct emu_vcpu *v, uint64_t rip)
{
    unsigned why = v->step | (v->singlestep ? EMU_STEP_USER : 0);
    v->step = 0;
    v->skip_addr = EMU_NO_ADDR;
    uint64_t rflags = emu_reg(v, UC_X86_REG_RFLAGS);
    emu_set_reg(v, UC_X86_REG_RFLAGS, rflags & ~EMU_RFLAGS_TF);
    emu_set_reg(v, UC_X86_REG_DR6, v->dr6_saved);
    v->tf_set = false;
    if (why & EMU_STEP_EMULATE)
        v->emulate_done = true;
    if (why & EMU_STEP_USER) {
        emu_event_begin(v, MICROVMI_EVENT_SINGLESTEP, rip);
        v->ev.u.singlestep.gpa = rip;
        emu_event_stop(v);
    } else if (why & EMU_STEP_EMULATE) {
        v->restart = true;
        uc_emu_stop(v->uc);
    }
}

static void on_interrupt(uc_engine *uc, uint32_t intno, void *user)
{
    struct emu_vcpu *v = user;
    struct emu *emu = v->emu;
    (void)uc;
    if (v->ev_ready || v->dead)
        return;
    uint64_t rip = emu_reg(v, UC_X86_REG_RIP);
    if (intno == 1 && v->tf_set && (emu_reg(v, UC_X86_REG_DR6) & EMU_DR6_BS)) {
        step_done(v, rip);
        return;
    }
    uint8_t vector = (uint8_t)intno;
    uint8_t len = soft_int_len(emu, intno, rip);
    if (!len && (vector == 0 || vector == 8 || (vector >= 10 && vector <= 14)))
        emu_quirk_clear_old_exception(v);
    uint64_t at = rip - len;
    if (vector == 3 && len && emu_filter_match(&v->filter[MICROVMI_EVENT_INT3], 3)) {
        emu_event_begin(v, MICROVMI_EVENT_INT3, at);
        v->ev.u.int3.gpa = at;
        v->ev.u.int3.gva = at;
        v->ev.u.int3.insn_len = len;
        v->rip_set = true;
        v->new_rip = at;
        emu_event_stop(v);
        return;
    }
    bool has_error = !len && emu_vector_has_error(vector);
    uint32_t error = 0;
    uint64_t cr2 = 0;
    if (vector == 14 && !len) {
        cr2 = emu_reg(v, UC_X86_REG_CR2);
        error = pf_error_code(v, rip, cr2);
    }
    if (emu_filter_match(&v->filter[MICROVMI_EVENT_EXCEPTION], vector)) {
        emu_event_begin(v, MICROVMI_EVENT_EXCEPTION, at);
        v->ev.u.exception.vector = vector;
        v->ev.u.exception.software = len != 0;
        v->ev.u.exception.has_error_code = has_error;
        v->ev.u.exception.error_code = error;
        v->ev.u.exception.cr2 = cr2;
        v->ev.u.exception.insn_len = len;
        v->rip_set = true;
        v->new_rip = at;
        emu_event_stop(v);
        return;
    }
    if (!v->tf_set) {
        if (!emu_deliver(v, vector, has_error, error, rip, false))
            die(v);
        return;
    }
    /* The stepped instruction raised it: the step ends at the handler. */
    if (!emu_deliver(v, vector, has_error, error, rip, true)) {
        die(v);
        return;
    }
    step_done(v, v->new_rip);
    if (!v->ev_ready && !v->restart) {
        v->rip_set = false;
        emu_set_reg(v, UC_X86_REG_RIP, v->new_rip);
    }
}

/* #UD: Unicorn stops the run after this hook whatever it returns. */
static bool on_invalid(uc_engine *uc, void *user)
{
    struct emu_vcpu *v = user;
    (void)uc;
    if (v->ev_ready || v->dead)
        return true;
    uint64_t rip = emu_reg(v, UC_X86_REG_RIP);
    v->restart = true;
    if (emu_filter_match(&v->filter[MICROVMI_EVENT_EXCEPTION], 6)) {
        emu_event_begin(v, MICROVMI_EVENT_EXCEPTION, rip);
        v->ev.u.exception.vector = 6;
        emu_event_stop(v);
        return true;
    }
    bool stepping = v->tf_set;
    if (!emu_deliver(v, 6, false, 0, rip, true)) {
        die(v);
        return true;
    }
    if (stepping)
        step_done(v, v->new_rip);
    return true;
}

static bool insn_reads_memory(struct emu_vcpu *v, uint64_t rip)
{
    struct emu *emu = v->emu;
    uint8_t buf[16];
    bool reads = false;
    if (!emu_gpa_ok(emu, rip, sizeof buf))
        return true;
    memcpy(buf, emu->ram + rip, sizeof buf);
    cs_insn *insn = NULL;
    if (cs_disasm(emu->cs, buf, sizeof buf, rip, 1, &insn) == 1 && insn->detail) {
        const cs_x86 *x = &insn->detail->x86;
        for (uint8_t i = 0; i < x->op_count; i++)
            if (x->operands[i].type == X86_OP_MEM && (x->operands[i].access & CS_AC_READ))
                reads = true;
    } else {
        reads = true;
    }
    if (insn)
        cs_free(insn, 1);
    return reads;
}

static bool insn_is_atomic(const cs_insn *in)
{
    const cs_x86 *x = &in->detail->x86;
    bool mem = false;
    for (uint8_t i = 0; i < x->op_count; i++)
        mem |= x->operands[i].type == X86_OP_MEM;
    return mem && (x->prefix[0] == X86_PREFIX_LOCK || in->id == X86_INS_XCHG);
}

static uint64_t effective_address(struct emu_vcpu *v, const cs_insn *in, const x86_op_mem *m)
{
    uint64_t ea = (uint64_t)m->disp;
    if (m->base == X86_REG_RIP)
        ea += in->address + in->size;
    else if (m->base != X86_REG_INVALID)
        ea += emu_reg(v, emu_uc_gpr(m->base));
    if (m->index != X86_REG_INVALID)
        ea += emu_reg(v, emu_uc_gpr(m->index)) * (uint64_t)m->scale;
    if (m->segment == X86_REG_FS)
        ea += emu_reg(v, UC_X86_REG_FS_BASE);
    else if (m->segment == X86_REG_GS)
        ea += emu_reg(v, UC_X86_REG_GS_BASE);
    return ea;
}

/* Unicorn syncs RIP before ordinary loads and stores but not before atomic
 * ones: after a fault RIP may still name an earlier, already executed
 * instruction of the block. Find the instruction that really faulted: the
 * one at RIP if its operand covers addr, else the next atomic one. */
uint64_t emu_fault_rip(struct emu_vcpu *v, uint64_t rip, uint64_t addr)
{
    struct emu *emu = v->emu;
    uint8_t buf[160];
    size_t n = sizeof buf;
    if (!emu_gpa_ok(emu, rip, 1))
        return rip;
    if (!emu_gpa_ok(emu, rip, n))
        n = (size_t)(emu->ram_size - rip);
    memcpy(buf, emu->ram + rip, n);
    cs_insn *in = NULL;
    size_t count = cs_disasm(emu->cs, buf, n, rip, 10, &in);
    uint64_t found = rip;
    for (size_t i = 0; i < count; i++) {
        if (!in[i].detail)
            break;
        const cs_x86 *x = &in[i].detail->x86;
        bool covers = false;
        for (uint8_t k = 0; k < x->op_count; k++) {
            if (x->operands[k].type != X86_OP_MEM)
                continue;
            uint64_t ea = effective_address(v, &in[i], &x->operands[k].mem);
            covers |= addr >= ea && addr < ea + x->operands[k].size;
        }
        if ((i == 0 && covers) || (i > 0 && insn_is_atomic(&in[i]))) {
            found = in[i].address;
            break;
        }
        const uint8_t *g = in[i].detail->groups;
        bool ends = false;
        for (uint8_t k = 0; k < in[i].detail->groups_count; k++)
            ends |= g[k] == CS_GRP_JUMP || g[k] == CS_GRP_CALL || g[k] == CS_GRP_RET;
        if (ends)
            break;
    }
    if (in)
        cs_free(in, count);
    return found;
}

/* A page the vCPU's view does not allow: stop before the access lands. */
static bool on_prot(uc_engine *uc, uc_mem_type type, uint64_t addr, int size, int64_t value,
                    void *user)
{
    struct emu_vcpu *v = user;
    if (v->ev_ready || v->dead)
        return false;
    enum microvmi_access access = type == UC_MEM_WRITE_PROT  ? MICROVMI_ACCESS_W
                                  : type == UC_MEM_FETCH_PROT ? MICROVMI_ACCESS_X
                                                              : MICROVMI_ACCESS_R;
    struct emu *emu = v->emu;
    uint64_t gfn = addr / MICROVMI_PAGE_SIZE;
    if (access == MICROVMI_ACCESS_W && gfn < emu->npages &&
        (emu->view[v->view].perm[gfn] & MICROVMI_ACCESS_W)) {
        /* Writable in the view, unwritable here only because unreadable
         * (slat.c): a read-modify-write reports its read, a plain store
         * lands as if nothing happened. */
        if (!insn_reads_memory(v, emu_reg(v, UC_X86_REG_RIP))) {
            uc_mem_write(uc, addr, &value, (size_t)size);
            return true;
        }
        access = MICROVMI_ACCESS_R;
    }
    emu_event_begin(v, MICROVMI_EVENT_MEMORY, 0);
    v->ev.u.memory.gpa = addr;
    v->ev.u.memory.gva = addr;
    v->ev.u.memory.gva_valid = true;
    v->ev.u.memory.access = access;
    v->ev.u.memory.size = (uint32_t)size;
    emu_event_stop(v);
    return false;
}

/* Every block start: where the run thread's stop requests land. Unicorn
 * also checks uc_emu_stop after each memory access and then rewinds RIP to
 * the start of the block, re-running what already ran; so nothing ever
 * calls uc_emu_stop from another thread: the ticker and pausers raise
 * stop_asked and the engine stops itself here, before the block runs. */
static void on_block(uc_engine *uc, uint64_t addr, uint32_t size, void *user)
{
    struct emu_vcpu *v = user;
    if (v->ev_ready || v->dead)
        return;
    if (atomic_load_explicit(&v->emu->stop_asked, memory_order_relaxed)) {
        v->restart = true;
        uc_emu_stop(uc);
        return;
    }
    if (v->emu->scan_on)
        emu_scan_block(v, addr, size);
}

void emu_hooks_install(struct emu_vcpu *v)
{
    uc_hook_add(v->uc, &v->h_block, UC_HOOK_BLOCK, (void *)on_block, v, 1, 0);
    uc_hook_add(v->uc, &v->h_intr, UC_HOOK_INTR, (void *)on_interrupt, v, 1, 0);
    uc_hook_add(v->uc, &v->h_invalid, UC_HOOK_INSN_INVALID, (void *)on_invalid, v, 1, 0);
    uc_hook_add(v->uc, &v->h_prot, UC_HOOK_MEM_PROT, (void *)on_prot, v, 1, 0);
}
