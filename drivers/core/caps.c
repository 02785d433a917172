/*
 * The capability table: every bit of enum microvmi_capability with its group,
 * a short id and the title of the matching row in the VMI feature tables
 * (../shared/seeds). Every matrix (CLI, README, stub) is printed from it.
 */
#include "microvmi.h"

#define CAP(bit_, group_, name_, title_) \
    { MICROVMI_CAP_##bit_, MICROVMI_CAP_GROUP_##group_, name_, title_ }

static const struct microvmi_cap_info cap_table[] = {
    CAP(VCPU_COUNT, STATE, "vcpu_count", "get number of VCPUs"),
    CAP(MAX_GFN, STATE, "max_gfn", "get maximum gfn"),
    CAP(PAUSE_RESUME, STATE, "pause_resume", "pause/resume"),
    CAP(READ_PHYSICAL, STATE, "read_physical", "r/w physical memory (read)"),
    CAP(WRITE_PHYSICAL, STATE, "write_physical", "r/w physical memory (write)"),
    CAP(READ_VIRTUAL, STATE, "read_virtual", "r/w virtual memory (read)"),
    CAP(WRITE_VIRTUAL, STATE, "write_virtual", "r/w virtual memory (write)"),
    CAP(READ_REGISTERS, STATE, "read_registers", "r/w VCPU registers (read)"),
    CAP(WRITE_REGISTERS, STATE, "write_registers", "r/w VCPU registers (write)"),

    CAP(EVENT_CR, EVENTS, "event_cr", "control registers"),
    CAP(EVENT_XCR, EVENTS, "event_xcr", "extended control registers"),
    CAP(EVENT_DR, EVENTS, "event_dr", "debug registers"),
    CAP(EVENT_MSR, EVENTS, "event_msr", "MSR"),
    CAP(EVENT_SINGLESTEP, EVENTS, "event_singlestep", "singlesteps"),
    CAP(EVENT_INT3, EVENTS, "event_int3", "interrupts (int3)"),
    CAP(EVENT_EXCEPTION, EVENTS, "event_exception", "interrupts (other exceptions)"),
    CAP(EVENT_DESCRIPTOR, EVENTS, "event_descriptor", "descriptors"),
    CAP(EVENT_HYPERCALL, EVENTS, "event_hypercall", "hypercalls"),
    CAP(EVENT_CPUID, EVENTS, "event_cpuid", "CPUID"),
    CAP(EVENT_MEMORY, EVENTS, "event_memory", "memory"),
    CAP(ALTERNATE_SLAT, EVENTS, "alternate_slat", "alternate SLAT"),
    CAP(PROCESSOR_TRACE, EVENTS, "processor_trace", "Intel Processor Trace packets"),

    CAP(FOREIGN_MAPPING, UTILITIES, "foreign_mapping", "foreign mapping"),
    CAP(INJECT_EXCEPTION, UTILITIES, "inject_exception", "exception injection"),

    CAP(NATIVE_BREAKPOINT, NATIVE, "native_breakpoint", "execution breakpoints"),
    CAP(NATIVE_HW_BREAKPOINT, NATIVE, "native_hw_breakpoint", "hardware breakpoints"),
    CAP(NATIVE_WATCHPOINT, NATIVE, "native_watchpoint", "watchpoints"),
    CAP(NATIVE_SINGLESTEP, NATIVE, "native_singlestep", "single-step"),
};

const struct microvmi_cap_info *microvmi_capability_table(size_t *count)
{
    if (count)
        *count = sizeof cap_table / sizeof cap_table[0];
    return cap_table;
}

const char *microvmi_cap_group_title(enum microvmi_cap_group group)
{
    switch (group) {
    case MICROVMI_CAP_GROUP_STATE:
        return "Accessing the VM's hardware state";
    case MICROVMI_CAP_GROUP_EVENTS:
        return "Intercept VM's hardware events";
    case MICROVMI_CAP_GROUP_UTILITIES:
        return "Utilities";
    case MICROVMI_CAP_GROUP_NATIVE:
        return "Native mechanisms (the hypervisor's own debugger)";
    }
    return "unknown group";
}
