/* Z0: software breakpoints. 0xCC written into guest memory (by physical
 * address, so a later CR3 switch cannot make us restore the wrong byte) and
 * the int3 intercept on every vCPU. An int3 event at an address that is not
 * ours is the guest's own and gets reinjected (events.c). */
#include "stub.h"

#include <errno.h>
#include <stdlib.h>

struct stub_swbp *stub_swbp_find_gpa(struct stub *s, uint64_t gpa)
{
    for (size_t i = 0; i < s->nswbps; i++)
        if (s->swbps[i].gpa == gpa)
            return &s->swbps[i];
    return NULL;
}

void stub_swbp_plant(struct stub *s, struct stub_swbp *bp)
{
    if (bp->planted)
        return;
    static const uint8_t int3 = 0xcc;
    if (microvmi_write_physical(s->vm, bp->gpa, &int3, 1, NULL) == MICROVMI_OK)
        bp->planted = true;
    else
        stub_log(s, 0, "cannot plant breakpoint at %#llx: %s", (unsigned long long)bp->addr,
                 microvmi_last_error(s->vm));
}

void stub_swbp_unplant(struct stub *s, struct stub_swbp *bp)
{
    if (!bp->planted)
        return;
    if (microvmi_write_physical(s->vm, bp->gpa, &bp->orig, 1, NULL) == MICROVMI_OK)
        bp->planted = false;
    else
        stub_log(s, 0, "cannot restore the byte under the breakpoint at %#llx: %s",
                 (unsigned long long)bp->addr, microvmi_last_error(s->vm));
}

static bool ensure_intercept(struct stub *s)
{
    if (s->int3_intercept)
        return true;
    struct microvmi_intercept what = { MICROVMI_EVENT_INT3, MICROVMI_ANY };
    if (microvmi_toggle_intercept(s->vm, MICROVMI_ALL_VCPUS, &what, true) != MICROVMI_OK) {
        stub_log(s, 0, "int3 intercept: %s", microvmi_last_error(s->vm));
        return false;
    }
    s->int3_intercept = true;
    return true;
}

int stub_swbp_insert(struct stub *s, uint64_t addr, bool temp)
{
    uint64_t gpa;
    if (stub_gva_to_gpa(s, s->g_vcpu, addr, &gpa) != MICROVMI_OK)
        return EFAULT;
    struct stub_swbp *old = stub_swbp_find_gpa(s, gpa);
    if (old) {
        /* gdb's breakpoint where a step's temporary one sits: becomes gdb's */
        if (!temp)
            old->temp = false;
        return 0;
    }
    if (!ensure_intercept(s))
        return ENOSYS;
    uint8_t orig;
    if (microvmi_read_physical(s->vm, gpa, &orig, 1, NULL) != MICROVMI_OK)
        return EFAULT;
    struct stub_swbp *swbps = stub_reserve(s->swbps, &s->capswbps, s->nswbps, sizeof *swbps, 16);
    if (!swbps)
        return ENOMEM;
    s->swbps = swbps;
    struct stub_swbp *bp = &s->swbps[s->nswbps];
    *bp = (struct stub_swbp){ .addr = addr, .gpa = gpa, .orig = orig, .temp = temp };
    stub_swbp_plant(s, bp);
    if (!bp->planted)
        return EFAULT;
    s->nswbps++;
    return 0;
}

static void drop(struct stub *s, size_t i)
{
    stub_swbp_unplant(s, &s->swbps[i]);
    s->swbps[i] = s->swbps[--s->nswbps];
}

int stub_swbp_remove(struct stub *s, uint64_t addr, bool temp)
{
    for (size_t i = 0; i < s->nswbps; i++) {
        if (s->swbps[i].addr == addr && s->swbps[i].temp == temp) {
            drop(s, i);
            return 0;
        }
    }
    /* Removing what is not there is not an error for gdb. */
    return 0;
}

void stub_swbp_after_write(struct stub *s, uint64_t addr, size_t len)
{
    for (size_t i = 0; i < s->nswbps; i++) {
        struct stub_swbp *bp = &s->swbps[i];
        uint64_t at = s->phys ? bp->gpa : bp->addr;
        if (!bp->planted || at < addr || at - addr >= len)
            continue;
        /* gdb wrote the byte under our 0xCC: it is the new original */
        uint8_t now;
        if (microvmi_read_physical(s->vm, bp->gpa, &now, 1, NULL) == MICROVMI_OK) {
            bp->orig = now;
            bp->planted = false;
            stub_swbp_plant(s, bp);
        }
    }
}

int stub_native_bp(struct stub *s, uint64_t addr, bool insert)
{
    size_t i = 0;
    while (i < s->nnative_bps && s->native_bps[i] != addr)
        i++;
    if (insert && i < s->nnative_bps)
        return 0;
    if (!insert && i == s->nnative_bps)
        return 0;
    if (insert) {
        uint64_t *bps = stub_reserve(s->native_bps, &s->capnative_bps, s->nnative_bps,
                                     sizeof *bps, 16);
        if (!bps)
            return ENOMEM;
        s->native_bps = bps;
    }
    if (microvmi_native_breakpoint(s->vm, MICROVMI_NATIVE_EXEC, addr, 1, insert) != MICROVMI_OK)
        return EIO;
    if (insert)
        s->native_bps[s->nnative_bps++] = addr;
    else
        s->native_bps[i] = s->native_bps[--s->nnative_bps];
    return 0;
}

void stub_swbp_remove_all(struct stub *s)
{
    while (s->nnative_bps) {
        if (stub_native_bp(s, s->native_bps[s->nnative_bps - 1], false) != 0)
            s->nnative_bps--; /* the driver refused: its close() removes it */
    }
    while (s->nswbps)
        drop(s, s->nswbps - 1);
    if (s->int3_intercept) {
        struct microvmi_intercept what = { MICROVMI_EVENT_INT3, MICROVMI_ANY };
        microvmi_toggle_intercept(s->vm, MICROVMI_ALL_VCPUS, &what, false);
        s->int3_intercept = false;
    }
}
