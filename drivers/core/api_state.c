/* Thin wrappers: vCPU count, max gfn, pause/resume, registers. */
#include "handle.h"

enum microvmi_status microvmi_vcpu_count(microvmi_t *vm, uint32_t *count)
{
    if (!count)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG, "vcpu_count: count is NULL");
    MICROVMI_FORWARD(vm, vcpu_count, "vcpu_count", count);
}

enum microvmi_status microvmi_max_gfn(microvmi_t *vm, uint64_t *max_gfn)
{
    if (!max_gfn)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG, "max_gfn: max_gfn is NULL");
    MICROVMI_FORWARD(vm, max_gfn, "max_gfn", max_gfn);
}

enum microvmi_status microvmi_pause(microvmi_t *vm)
{
    MICROVMI_FORWARD_NOARGS(vm, pause, "pause");
}

enum microvmi_status microvmi_resume(microvmi_t *vm)
{
    MICROVMI_FORWARD_NOARGS(vm, resume, "resume");
}

enum microvmi_status microvmi_pause_vcpu(microvmi_t *vm, uint32_t vcpu)
{
    MICROVMI_FORWARD(vm, pause_vcpu, "pause_vcpu", vcpu);
}

enum microvmi_status microvmi_resume_vcpu(microvmi_t *vm, uint32_t vcpu)
{
    MICROVMI_FORWARD(vm, resume_vcpu, "resume_vcpu", vcpu);
}

enum microvmi_status microvmi_read_registers(microvmi_t *vm, uint32_t vcpu,
                                             struct microvmi_x86_regs *regs)
{
    if (!regs)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG, "read_registers: regs is NULL");
    MICROVMI_FORWARD(vm, read_registers, "reading registers", vcpu, regs);
}

enum microvmi_status microvmi_write_registers(microvmi_t *vm, uint32_t vcpu,
                                              const struct microvmi_x86_regs *regs)
{
    if (!regs)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG, "write_registers: regs is NULL");
    MICROVMI_FORWARD(vm, write_registers, "writing registers", vcpu, regs);
}
