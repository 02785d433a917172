/*
 * Replies to events, exception injection, and the single-step machinery
 * they share. Stepping is RFLAGS.TF: QEMU's translator then makes one-
 * instruction blocks keyed by TF and raises #DB after the instruction, so
 * a step never flushes the translation cache (Unicorn's count=1 does).
 */
#include <inttypes.h>
#include <string.h>

#include "emu.h"

void emu_step_prepare(struct emu_vcpu *v)
{
    if (v->inject) {
        v->inject = false;
        if (v->inj_vector == 14)
            emu_set_reg(v, UC_X86_REG_CR2, v->inj_cr2);
        uint64_t ret = v->inj_return_rip == EMU_NO_ADDR ? emu_reg(v, UC_X86_REG_RIP)
                                                         : v->inj_return_rip;
        if (!emu_deliver(v, v->inj_vector, v->inj_has_error, v->inj_error, ret, false)) {
            v->dead = true;
            return;
        }
        /* The delivery was the step: stop at the handler's first instruction. */
        if (v->singlestep || (v->step & EMU_STEP_USER)) {
            v->step = 0;
            uint64_t rip = emu_reg(v, UC_X86_REG_RIP);
            emu_event_begin(v, MICROVMI_EVENT_SINGLESTEP, rip);
            v->ev.u.singlestep.gpa = rip;
            v->ev_ready = true;
            return;
        }
    }
    unsigned want = v->step | (v->singlestep ? EMU_STEP_USER : 0);
    if (!want)
        return;
    v->step = want;
    v->dr6_saved = emu_reg(v, UC_X86_REG_DR6) & ~EMU_DR6_BS;
    emu_set_reg(v, UC_X86_REG_RFLAGS, emu_reg(v, UC_X86_REG_RFLAGS) | EMU_RFLAGS_TF);
    v->tf_set = true;
}

void emu_step_finish(struct emu_vcpu *v)
{
    if (!v->tf_set)
        return;
    v->tf_set = false;
    emu_set_reg(v, UC_X86_REG_RFLAGS, emu_reg(v, UC_X86_REG_RFLAGS) & ~EMU_RFLAGS_TF);
    emu_set_reg(v, UC_X86_REG_DR6, v->dr6_saved);
}

static void skip_insn(struct emu_vcpu *v, uint64_t rip, uint8_t len)
{
    if (!len)
        len = emu_insn_len(v, rip);
    emu_set_reg(v, UC_X86_REG_RIP, rip + len);
}

static void queue_injection(struct emu_vcpu *v, uint8_t vector, bool has_error, uint32_t error,
                            uint64_t cr2, uint64_t return_rip)
{
    v->inject = true;
    v->inj_vector = vector;
    v->inj_has_error = has_error;
    v->inj_error = error;
    v->inj_cr2 = cr2;
    v->inj_return_rip = return_rip;
}

/* Sites are the instructions an event stopped before (CR, MSR, ...). */
static bool is_site_kind(enum microvmi_event_kind k)
{
    return k == MICROVMI_EVENT_CR || k == MICROVMI_EVENT_XCR || k == MICROVMI_EVENT_DR ||
           k == MICROVMI_EVENT_MSR || k == MICROVMI_EVENT_DESCRIPTOR ||
           k == MICROVMI_EVENT_HYPERCALL || k == MICROVMI_EVENT_CPUID;
}

static uint8_t site_len(const struct microvmi_event *ev)
{
    switch (ev->kind) {
    case MICROVMI_EVENT_DESCRIPTOR:
        return ev->u.descriptor.insn_len;
    case MICROVMI_EVENT_HYPERCALL:
        return ev->u.hypercall.insn_len;
    case MICROVMI_EVENT_CPUID:
        return ev->u.cpuid.insn_len;
    default:
        return 0;
    }
}

static enum microvmi_status apply_reply(struct emu *emu, struct emu_vcpu *v,
                                        const struct microvmi_event *ev,
                                        const struct microvmi_reply *r)
{
    uint32_t f = r->flags;
    if (f & MICROVMI_RESPONSE_SET_REGISTERS) {
        if (!r->regs)
            return microvmi_fail(emu->vm, MICROVMI_INVALID_ARG,
                                 "reply: SET_REGISTERS without regs");
        emu_write_regs(v, r->regs);
    }
    if (f & MICROVMI_RESPONSE_SWITCH_VIEW) {
        enum microvmi_status st = emu_view_switch(emu, v->id, r->view);
        if (st != MICROVMI_OK)
            return st;
    }
    uint64_t rip = emu_reg(v, UC_X86_REG_RIP);
    bool same = rip == ev->rip;
    switch (ev->kind) {
    case MICROVMI_EVENT_INT3:
        if (f & MICROVMI_RESPONSE_REINJECT)
            queue_injection(v, 3, false, 0, 0, ev->rip + ev->u.int3.insn_len);
        break;
    case MICROVMI_EVENT_EXCEPTION: {
        uint8_t vec = ev->u.exception.vector;
        if (f & MICROVMI_RESPONSE_REINJECT) {
            queue_injection(v, vec, ev->u.exception.has_error_code, ev->u.exception.error_code,
                            ev->u.exception.cr2, ev->rip + ev->u.exception.insn_len);
        } else if (vec == 1 && same && !ev->u.exception.software) {
            /* A debug-register breakpoint: resume past it once, as RF does. */
            v->skip_addr = rip;
            v->step |= EMU_STEP_SKIP;
            emu_set_reg(v, UC_X86_REG_RFLAGS, emu_reg(v, UC_X86_REG_RFLAGS) | EMU_RFLAGS_RF);
        }
        break;
    }
    case MICROVMI_EVENT_MEMORY:
        if ((f & MICROVMI_RESPONSE_DENY) && same) {
            skip_insn(v, rip, 0);
        } else if ((f & MICROVMI_RESPONSE_EMULATE) && same) {
            v->emulate_gfn = ev->u.memory.gpa / MICROVMI_PAGE_SIZE;
            emu_slat_permit_once(v, v->emulate_gfn);
            v->step |= EMU_STEP_EMULATE;
        }
        break;
    default:
        if (!is_site_kind(ev->kind) || !same)
            break;
        if (ev->kind == MICROVMI_EVENT_CPUID && (f & MICROVMI_RESPONSE_SET_CPUID)) {
            emu_set_reg(v, UC_X86_REG_RAX, r->cpuid[0]);
            emu_set_reg(v, UC_X86_REG_RBX, r->cpuid[1]);
            emu_set_reg(v, UC_X86_REG_RCX, r->cpuid[2]);
            emu_set_reg(v, UC_X86_REG_RDX, r->cpuid[3]);
            skip_insn(v, rip, site_len(ev));
        } else if (f & MICROVMI_RESPONSE_DENY) {
            skip_insn(v, rip, site_len(ev));
        } else {
            v->skip_addr = rip;
            v->step |= EMU_STEP_SKIP;
        }
        break;
    }
    if (f & MICROVMI_RESPONSE_TOGGLE_SINGLESTEP)
        v->singlestep = !v->singlestep;
    return MICROVMI_OK;
}

enum microvmi_status emu_reply(struct emu *emu, const struct microvmi_event *ev,
                               const struct microvmi_reply *reply)
{
    if (ev->vcpu >= emu->nvcpus)
        return microvmi_fail(emu->vm, MICROVMI_INVALID_ARG, "reply: no vCPU %u", ev->vcpu);
    struct emu_vcpu *v = &emu->vcpu[ev->vcpu];
    pthread_mutex_lock(&emu->lock);
    bool ok = v->held && !v->queued && v->token == ev->token;
    pthread_mutex_unlock(&emu->lock);
    if (!ok)
        return microvmi_fail(emu->vm, MICROVMI_INVALID_ARG,
                             "reply: vCPU %u holds no such event (already replied, or not "
                             "returned by listen)",
                             ev->vcpu);
    enum microvmi_status st = apply_reply(emu, v, ev, reply);
    if (st != MICROVMI_OK)
        return st;
    pthread_mutex_lock(&emu->lock);
    v->held = false;
    emu_kick_locked(emu);
    pthread_mutex_unlock(&emu->lock);
    return MICROVMI_OK;
}

enum microvmi_status emu_inject(struct emu *emu, uint32_t vcpu, uint8_t vector, bool has_error,
                                uint32_t error, uint64_t cr2)
{
    if (vcpu >= emu->nvcpus)
        return microvmi_fail(emu->vm, MICROVMI_INVALID_ARG, "inject: no vCPU %u", vcpu);
    struct emu_vcpu *v = &emu->vcpu[vcpu];
    if (!emu_vcpu_stopped(emu, v))
        return microvmi_fail(emu->vm, MICROVMI_BAD_STATE,
                             "inject: vCPU %u is running; pause it first", vcpu);
    queue_injection(v, vector, has_error, error, cr2, EMU_NO_ADDR);
    pthread_mutex_lock(&emu->lock);
    if (v->halted && v->in_hlt) {
        v->halted = false;
        v->in_hlt = false;
    }
    pthread_mutex_unlock(&emu->lock);
    return MICROVMI_OK;
}
