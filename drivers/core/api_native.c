/* Thin wrappers: the hypervisor's own breakpoints, watchpoints and step. */
#include "handle.h"

enum microvmi_status microvmi_native_breakpoint(microvmi_t *vm, enum microvmi_native_kind kind,
                                                uint64_t address, uint64_t len, bool insert)
{
    if ((unsigned)kind > MICROVMI_NATIVE_WATCH_ACCESS)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG, "native_breakpoint: unknown kind %u",
                             (unsigned)kind);
    MICROVMI_FORWARD(vm, native_breakpoint, "native breakpoints", kind, address, len, insert);
}

enum microvmi_status microvmi_native_step(microvmi_t *vm, uint32_t vcpu)
{
    MICROVMI_FORWARD(vm, native_step, "native single-step", vcpu);
}
