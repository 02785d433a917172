/* Thin wrappers: intercepts, listen/reply, interrupt, event fd, injection. */
#include "handle.h"

enum microvmi_status microvmi_toggle_intercept(microvmi_t *vm, uint32_t vcpu,
                                               const struct microvmi_intercept *what,
                                               bool enabled)
{
    if (!what)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG, "toggle_intercept: what is NULL");
    if (vm && !vm->ops->toggle_intercept) {
        char name[64];
        snprintf(name, sizeof name, "%s intercepts", microvmi_event_kind_str(what->kind));
        return microvmi_unsupported(vm, name);
    }
    MICROVMI_FORWARD(vm, toggle_intercept, "toggle_intercept", vcpu, what, enabled);
}

enum microvmi_status microvmi_listen(microvmi_t *vm, int timeout_ms, struct microvmi_event *ev)
{
    if (!ev)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG, "listen: ev is NULL");
    MICROVMI_FORWARD(vm, listen, "listening for events", timeout_ms, ev);
}

/* No message here: another thread may be using the handle right now. */
enum microvmi_status microvmi_interrupt(microvmi_t *vm)
{
    if (!vm)
        return MICROVMI_INVALID_ARG;
    if (!vm->ops->interrupt)
        return MICROVMI_NOT_SUPPORTED;
    return vm->ops->interrupt(vm->ctx);
}

int microvmi_event_fd(microvmi_t *vm)
{
    if (!vm || !vm->ops->event_fd)
        return -1;
    return vm->ops->event_fd(vm->ctx);
}

enum microvmi_status microvmi_reply(microvmi_t *vm, const struct microvmi_event *ev,
                                    const struct microvmi_reply *reply)
{
    if (!ev || !reply)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG, "reply: ev or reply is NULL");
    MICROVMI_FORWARD(vm, reply, "replying to events", ev, reply);
}

enum microvmi_status microvmi_inject_exception(microvmi_t *vm, uint32_t vcpu, uint8_t vector,
                                               bool has_error_code, uint32_t error_code,
                                               uint64_t cr2)
{
    if (vector > 31)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG,
                             "inject_exception: vector %u is not an exception (0-31)", vector);
    MICROVMI_FORWARD(vm, inject_exception, "exception injection", vcpu, vector, has_error_code,
                     error_code, cr2);
}
