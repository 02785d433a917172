/* Z1: hardware breakpoints in DR0-3 of every vCPU (exec, length 1) and the
 * #DB (vector 1) intercept; else the driver's native hw breakpoints. The
 * guest's own DR0-3/DR7 are saved on first use and put back at clean-up. */
#include "stub.h"

#include <errno.h>

static bool can_use_drs(const struct stub *s)
{
    return (s->caps & MICROVMI_CAP_WRITE_REGISTERS) && (s->caps & MICROVMI_CAP_READ_REGISTERS) &&
           (s->caps & MICROVMI_CAP_EVENT_EXCEPTION);
}

static uint64_t *dr_slot(struct microvmi_x86_regs *r, int slot)
{
    switch (slot) {
    case 0: return &r->dr0;
    case 1: return &r->dr1;
    case 2: return &r->dr2;
    default: return &r->dr3;
    }
}

/* Write DR slot (or just its enable bit) on one vCPU. */
static bool program(struct stub *s, uint32_t vcpu, int slot, bool enable, uint64_t addr)
{
    struct microvmi_x86_regs r;
    if (microvmi_read_registers(s->vm, vcpu, &r) != MICROVMI_OK || !(r.present & MICROVMI_REGS_DEBUG))
        return false;
    struct stub_vcpu *v = &s->vcpus[vcpu];
    if (!v->dr_saved) {
        v->dr_orig[0] = r.dr0;
        v->dr_orig[1] = r.dr1;
        v->dr_orig[2] = r.dr2;
        v->dr_orig[3] = r.dr3;
        v->dr_orig[4] = r.dr7;
        v->dr_saved = true;
    }
    if (enable) {
        *dr_slot(&r, slot) = addr;
        r.dr7 &= ~(0xfull << (16 + 4 * slot)); /* RW=00 exec, LEN=00 */
        r.dr7 |= 1ull << (2 * slot);           /* L bit */
    } else {
        r.dr7 &= ~(3ull << (2 * slot));
    }
    r.present = MICROVMI_REGS_DEBUG;
    return microvmi_write_registers(s->vm, vcpu, &r) == MICROVMI_OK;
}

void stub_hwbp_enable_on(struct stub *s, uint32_t vcpu, int slot, bool enable)
{
    if (slot >= 0 && slot < 4 && s->hwbps[slot].used && !s->hwbps[slot].native)
        program(s, vcpu, slot, enable, s->hwbps[slot].addr);
}

int stub_hwbp_slot_at(struct stub *s, uint64_t rip)
{
    for (int i = 0; i < 4; i++)
        if (s->hwbps[i].used && s->hwbps[i].addr == rip)
            return i;
    return -1;
}

int stub_hwbp_insert(struct stub *s, uint64_t addr)
{
    if (stub_hwbp_slot_at(s, addr) >= 0)
        return 0;
    int slot = -1;
    for (int i = 0; i < 4 && slot < 0; i++)
        if (!s->hwbps[i].used)
            slot = i;
    if (slot < 0)
        return ENOSPC; /* gdb says "Could not insert hardware breakpoint" */
    if (can_use_drs(s)) {
        if (!s->db_intercept) {
            struct microvmi_intercept what = { MICROVMI_EVENT_EXCEPTION, 1 };
            if (microvmi_toggle_intercept(s->vm, MICROVMI_ALL_VCPUS, &what, true) != MICROVMI_OK)
                return ENOSYS;
            s->db_intercept = true;
        }
        for (uint32_t v = 0; v < s->nvcpus; v++) {
            if (!program(s, v, slot, true, addr)) {
                for (uint32_t u = 0; u < v; u++)
                    program(s, u, slot, false, 0);
                return EIO;
            }
        }
        s->hwbps[slot] = (struct stub_hwbp){ .used = true, .addr = addr };
        return 0;
    }
    if (s->caps & MICROVMI_CAP_NATIVE_HW_BREAKPOINT) {
        if (microvmi_native_breakpoint(s->vm, MICROVMI_NATIVE_HW_EXEC, addr, 1, true) != MICROVMI_OK)
            return EIO;
        s->hwbps[slot] = (struct stub_hwbp){ .used = true, .addr = addr, .native = true };
        return 0;
    }
    return ENOSYS;
}

int stub_hwbp_remove(struct stub *s, uint64_t addr)
{
    int slot = stub_hwbp_slot_at(s, addr);
    if (slot < 0)
        return 0;
    if (s->hwbps[slot].native)
        microvmi_native_breakpoint(s->vm, MICROVMI_NATIVE_HW_EXEC, addr, 1, false);
    else
        for (uint32_t v = 0; v < s->nvcpus; v++)
            program(s, v, slot, false, 0);
    s->hwbps[slot].used = false;
    return 0;
}

void stub_hwbp_remove_all(struct stub *s)
{
    for (int i = 0; i < 4; i++)
        if (s->hwbps[i].used)
            stub_hwbp_remove(s, s->hwbps[i].addr);
    for (uint32_t v = 0; v < s->nvcpus; v++) {
        struct stub_vcpu *sv = &s->vcpus[v];
        if (!sv->dr_saved)
            continue;
        struct microvmi_x86_regs r;
        if (microvmi_read_registers(s->vm, v, &r) == MICROVMI_OK) {
            r.dr0 = sv->dr_orig[0];
            r.dr1 = sv->dr_orig[1];
            r.dr2 = sv->dr_orig[2];
            r.dr3 = sv->dr_orig[3];
            r.dr7 = sv->dr_orig[4];
            r.present = MICROVMI_REGS_DEBUG;
            microvmi_write_registers(s->vm, v, &r);
        }
        sv->dr_saved = false;
    }
    if (s->db_intercept) {
        struct microvmi_intercept what = { MICROVMI_EVENT_EXCEPTION, 1 };
        microvmi_toggle_intercept(s->vm, MICROVMI_ALL_VCPUS, &what, false);
        s->db_intercept = false;
    }
}
