/*
 * Exception delivery through the guest's 64-bit IDT. Unicorn never uses the
 * guest IDT (DESIGN.md): every exception the guest raises, and every one a
 * caller injects or reinjects, is delivered here as the CPU would: stack
 * switch (IST, or RSP0 from a lower privilege), push SS, RSP, RFLAGS, CS,
 * RIP and the error code, load CS:RIP from the gate.
 */
#include <inttypes.h>
#include <string.h>

#include "emu.h"

#define GATE_INTERRUPT 0xe
#define GATE_TRAP 0xf
#define RFLAGS_NT (1ull << 14)
#define RFLAGS_VM (1ull << 17)
#define TSS_RSP0 4
#define TSS_IST1 0x24

bool emu_vector_has_error(uint8_t vector)
{
    return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21 ||
           vector == 29 || vector == 30;
}

/* The guest is identity-mapped (virtual == physical, Unicorn 2.0.1). */
static bool guest_read(struct emu *emu, uint64_t addr, void *buf, size_t len)
{
    if (!emu_gpa_ok(emu, addr, len))
        return false;
    memcpy(buf, emu->ram + addr, len);
    return true;
}

static bool guest_write(struct emu *emu, uint64_t addr, const void *buf, size_t len)
{
    if (!emu_gpa_ok(emu, addr, len))
        return false;
    memcpy(emu->ram + addr, buf, len);
    return true;
}

static bool fail(struct emu_vcpu *v, uint8_t vector, const char *why)
{
    snprintf(v->fault, sizeof v->fault,
             "vCPU %u: cannot deliver exception %u (%s): triple fault, vCPU stopped", v->id,
             vector, why);
    return false;
}

bool emu_deliver(struct emu_vcpu *v, uint8_t vector, bool has_error, uint32_t error,
                 uint64_t return_rip, bool stop_after)
{
    struct emu *emu = v->emu;
    uc_x86_mmr idtr = {0};
    uc_reg_read(v->uc, UC_X86_REG_IDTR, &idtr);
    if ((uint64_t)vector * 16 + 15 > idtr.limit)
        return fail(v, vector, "beyond the IDT limit");
    uint8_t g[16];
    if (!guest_read(emu, idtr.base + (uint64_t)vector * 16, g, sizeof g))
        return fail(v, vector, "IDT outside RAM");
    unsigned type = g[5] & 0xf;
    if (!(g[5] & 0x80) || (type != GATE_INTERRUPT && type != GATE_TRAP))
        return fail(v, vector, "gate not present or not a 64-bit gate");
    uint64_t target = (uint64_t)g[0] | (uint64_t)g[1] << 8 | (uint64_t)g[6] << 16 |
                      (uint64_t)g[7] << 24 | (uint64_t)g[8] << 32 | (uint64_t)g[9] << 40 |
                      (uint64_t)g[10] << 48 | (uint64_t)g[11] << 56;
    uint16_t sel = (uint16_t)(g[2] | g[3] << 8);
    unsigned ist = g[4] & 7;

    uint64_t rsp = emu_reg(v, UC_X86_REG_RSP);
    uint64_t cs = emu_reg(v, UC_X86_REG_CS);
    uint64_t ss = emu_reg(v, UC_X86_REG_SS);
    uint64_t rflags = emu_reg(v, UC_X86_REG_RFLAGS);
    if (v->tf_set)
        rflags &= ~EMU_RFLAGS_TF; /* our single-step flag is not the guest's */
    uint64_t new_rsp = rsp;
    if (ist || (cs & 3)) {
        uc_x86_mmr tr = {0};
        uc_reg_read(v->uc, UC_X86_REG_TR, &tr);
        uint64_t off = ist ? TSS_IST1 + 8ull * (ist - 1) : TSS_RSP0;
        if (!guest_read(emu, tr.base + off, &new_rsp, 8))
            return fail(v, vector, "TSS outside RAM");
        if (cs & 3)
            emu_set_reg(v, UC_X86_REG_SS, 0);
    }
    new_rsp &= ~0xfull;
    uint64_t frame[6];
    unsigned n = 0;
    if (has_error)
        frame[n++] = error;
    frame[n++] = return_rip;
    frame[n++] = cs;
    frame[n++] = rflags;
    frame[n++] = rsp;
    frame[n++] = ss;
    /* frame[] is bottom-up: the error code (or RIP) ends at the new RSP. */
    new_rsp -= 8ull * n;
    if (!guest_write(emu, new_rsp, frame, 8ull * n))
        return fail(v, vector, "stack outside RAM");
    rflags &= ~(EMU_RFLAGS_TF | RFLAGS_NT | EMU_RFLAGS_RF | RFLAGS_VM);
    if (type == GATE_INTERRUPT)
        rflags &= ~EMU_RFLAGS_IF;
    emu_set_reg(v, UC_X86_REG_RSP, new_rsp);
    emu_set_reg(v, UC_X86_REG_RFLAGS, rflags);
    if ((uint16_t)cs != sel)
        emu_set_reg(v, UC_X86_REG_CS, sel);
    if (stop_after) {
        /* Writing RIP inside a hook makes Unicorn carry on at once; when the
         * run must stop there, the run thread writes it afterwards. */
        v->rip_set = true;
        v->new_rip = target;
    } else {
        emu_set_reg(v, UC_X86_REG_RIP, target);
    }
    return true;
}
