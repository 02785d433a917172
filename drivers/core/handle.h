/*
 * The handle behind the opaque microvmi_t, and the helpers every api_*.c
 * wrapper uses to turn a driver's answer into a status plus a message.
 * Internal to drivers/.
 */
#ifndef MICROVMI_CORE_HANDLE_H
#define MICROVMI_CORE_HANDLE_H

#include "driver.h"

#define MICROVMI_ERROR_MAX 1024

struct microvmi {
    const struct microvmi_driver_ops *ops;
    void *ctx;
    /* Bumped by every microvmi_fail, so a wrapper can tell whether the
     * driver already explained a failure or core must say something. */
    unsigned error_generation;
    char error[MICROVMI_ERROR_MAX];
};

/* microvmi_init with a driver that is not in the registry (unit tests
 * fake drivers). */
enum microvmi_status microvmi_init_with_ops(const struct microvmi_driver_ops *ops,
                                            const char *const *params, microvmi_t **vm,
                                            char **err);

/* "driver X does not support Y" + MICROVMI_NOT_SUPPORTED. */
enum microvmi_status microvmi_unsupported(microvmi_t *vm, const char *what);

/* After a driver op returned status: when it failed without leaving a
 * message of its own (generation unchanged), record a generic one. */
enum microvmi_status microvmi_checked(microvmi_t *vm, enum microvmi_status status,
                                      unsigned generation, const char *what);

/* The common shape of a thin wrapper: NULL handle, NULL op, call, message.
 * call is the driver call expression, evaluated after the error generation
 * was noted. */
#define MICROVMI_FORWARD_CALL(vm, op, what, call)                                \
    do {                                                                         \
        if (!(vm))                                                               \
            return MICROVMI_INVALID_ARG;                                         \
        if (!(vm)->ops->op)                                                      \
            return microvmi_unsupported((vm), (what));                           \
        unsigned gen_ = (vm)->error_generation;                                  \
        return microvmi_checked((vm), (call), gen_, (what));                     \
    } while (0)

#define MICROVMI_FORWARD(vm, op, what, ...)                                      \
    MICROVMI_FORWARD_CALL(vm, op, what, (vm)->ops->op((vm)->ctx, __VA_ARGS__))

/* The same for ops that take only ctx (C11 macros cannot drop the comma). */
#define MICROVMI_FORWARD_NOARGS(vm, op, what)                                    \
    MICROVMI_FORWARD_CALL(vm, op, what, (vm)->ops->op((vm)->ctx))

#endif /* MICROVMI_CORE_HANDLE_H */
