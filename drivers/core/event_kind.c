/* Event kind names, as the CLI accepts and prints them. */
#include <string.h>

#include "microvmi.h"

static const char *const kind_names[MICROVMI_EVENT_KIND_COUNT] = {
    [MICROVMI_EVENT_CR] = "cr",
    [MICROVMI_EVENT_XCR] = "xcr",
    [MICROVMI_EVENT_DR] = "dr",
    [MICROVMI_EVENT_MSR] = "msr",
    [MICROVMI_EVENT_INT3] = "int3",
    [MICROVMI_EVENT_EXCEPTION] = "exception",
    [MICROVMI_EVENT_SINGLESTEP] = "singlestep",
    [MICROVMI_EVENT_DESCRIPTOR] = "descriptor",
    [MICROVMI_EVENT_HYPERCALL] = "hypercall",
    [MICROVMI_EVENT_CPUID] = "cpuid",
    [MICROVMI_EVENT_MEMORY] = "memory",
    [MICROVMI_EVENT_BREAKPOINT] = "breakpoint",
    [MICROVMI_EVENT_WATCHPOINT] = "watchpoint",
    [MICROVMI_EVENT_PAUSED] = "paused",
    [MICROVMI_EVENT_SHUTDOWN] = "shutdown",
};

const char *microvmi_event_kind_str(enum microvmi_event_kind kind)
{
    if ((unsigned)kind >= MICROVMI_EVENT_KIND_COUNT || !kind_names[kind])
        return "unknown";
    return kind_names[kind];
}

enum microvmi_status microvmi_event_kind_parse(const char *name, enum microvmi_event_kind *kind)
{
    if (!name || !kind)
        return MICROVMI_INVALID_ARG;
    for (unsigned k = 1; k < MICROVMI_EVENT_KIND_COUNT; k++) {
        if (kind_names[k] && strcmp(name, kind_names[k]) == 0) {
            *kind = (enum microvmi_event_kind)k;
            return MICROVMI_OK;
        }
    }
    /* The CR number itself is the intercept's index; the caller reads it. */
    if (!strcmp(name, "cr0") || !strcmp(name, "cr3") || !strcmp(name, "cr4") ||
        !strcmp(name, "cr8")) {
        *kind = MICROVMI_EVENT_CR;
        return MICROVMI_OK;
    }
    return MICROVMI_INVALID_ARG;
}
