/* Names of status codes: stable, lower-case, for messages and logs. */
#include "microvmi.h"

static const char *const status_names[MICROVMI_STATUS_COUNT] = {
    [MICROVMI_OK] = "ok",
    [MICROVMI_NOT_SUPPORTED] = "not supported",
    [MICROVMI_INVALID_ARG] = "invalid argument",
    [MICROVMI_NO_MEMORY_AT_ADDRESS] = "no memory at address",
    [MICROVMI_TRANSLATION_FAULT] = "translation fault",
    [MICROVMI_TIMEOUT] = "timeout",
    [MICROVMI_INTERRUPTED] = "interrupted",
    [MICROVMI_VM_GONE] = "vm gone",
    [MICROVMI_NO_SUCH_DRIVER] = "no such driver",
    [MICROVMI_INIT_FAILED] = "init failed",
    [MICROVMI_BAD_STATE] = "bad state",
    [MICROVMI_IO_ERROR] = "i/o error",
    [MICROVMI_OUT_OF_MEMORY] = "out of memory",
    [MICROVMI_READ_ONLY] = "read-only",
};

const char *microvmi_status_str(enum microvmi_status status)
{
    if ((unsigned)status >= MICROVMI_STATUS_COUNT || !status_names[status])
        return "unknown status";
    return status_names[status];
}
