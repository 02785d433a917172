/*
 * Opening and closing a VM: driver lookup or auto-detection, parameter
 * checking, the last-error message every call leaves behind.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"

enum microvmi_status microvmi_fail(microvmi_t *vm, enum microvmi_status status,
                                   const char *fmt, ...)
{
    if (!vm)
        return status;
    /* Format aside first: callers may pass vm->error as an argument. */
    char tmp[MICROVMI_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(vm->error, tmp, sizeof tmp);
    vm->error_generation++;
    return status;
}

enum microvmi_status microvmi_unsupported(microvmi_t *vm, const char *what)
{
    return microvmi_fail(vm, MICROVMI_NOT_SUPPORTED,
                         "driver %s does not support %s (run `microvmi drivers` to see "
                         "which driver does)",
                         vm->ops->info.name, what);
}

enum microvmi_status microvmi_checked(microvmi_t *vm, enum microvmi_status status,
                                      unsigned generation, const char *what)
{
    if (status != MICROVMI_OK && vm->error_generation == generation)
        microvmi_fail(vm, status, "%s failed in driver %s: %s", what, vm->ops->info.name,
                      microvmi_status_str(status));
    return status;
}

static void set_err(char **err, const char *msg)
{
    if (err)
        *err = strdup(msg);
}

/* Open one driver; on failure writes "name: why" into msg. */
static enum microvmi_status open_one(const struct microvmi_driver_ops *ops,
                                     const char *const *kv, size_t count, microvmi_t **out,
                                     char *msg, size_t msglen)
{
    char why[MICROVMI_ERROR_MAX];
    enum microvmi_status st = microvmi_params_check(ops->info.params, kv, count, why, sizeof why);
    if (st != MICROVMI_OK) {
        snprintf(msg, msglen, "driver %s: %.900s", ops->info.name, why);
        return st;
    }
    if (!ops->open) {
        snprintf(msg, msglen, "driver %s: cannot open a VM (no open operation)", ops->info.name);
        return MICROVMI_NOT_SUPPORTED;
    }
    microvmi_t *vm = calloc(1, sizeof *vm);
    if (!vm) {
        snprintf(msg, msglen, "driver %s: out of host memory", ops->info.name);
        return MICROVMI_OUT_OF_MEMORY;
    }
    vm->ops = ops;
    struct microvmi_params params = { count, kv };
    void *ctx = NULL;
    st = ops->open(vm, &params, &ctx);
    if (st != MICROVMI_OK) {
        snprintf(msg, msglen, "driver %s: %.900s", ops->info.name,
                 vm->error[0] ? vm->error : microvmi_status_str(st));
        if (ctx && ops->close)
            ops->close(ctx);
        free(vm);
        return st;
    }
    vm->ctx = ctx;
    vm->error[0] = '\0';
    *out = vm;
    return MICROVMI_OK;
}

static void compiled_names(char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < microvmi_driver_ops_count() && used < len; i++) {
        int w = snprintf(buf + used, len - used, "%s%s", i ? ", " : "",
                         microvmi_driver_ops_at(i)->info.name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    if (!used)
        snprintf(buf, len, "none");
}

enum microvmi_status microvmi_init(const char *driver, const char *const *params,
                                   microvmi_t **vm, char **err)
{
    if (err)
        *err = NULL;
    if (!vm) {
        set_err(err, "microvmi_init: the vm out-pointer is NULL");
        return MICROVMI_INVALID_ARG;
    }
    *vm = NULL;
    size_t count = 0;
    while (params && params[count])
        count++;

    char msg[MICROVMI_ERROR_MAX];
    if (driver) {
        const struct microvmi_driver_ops *ops = microvmi_driver_ops_find(driver);
        if (!ops) {
            char names[256];
            compiled_names(names, sizeof names);
            snprintf(msg, sizeof msg,
                     "no driver named '%s' in this build (compiled: %s); run `microvmi drivers`",
                     driver, names);
            set_err(err, msg);
            return MICROVMI_NO_SUCH_DRIVER;
        }
        enum microvmi_status st = open_one(ops, params, count, vm, msg, sizeof msg);
        if (st != MICROVMI_OK)
            set_err(err, msg);
        return st;
    }

    /* Auto-detect: every driver whose keys cover the params, in order. */
    char all[4 * MICROVMI_ERROR_MAX];
    int used = snprintf(all, sizeof all, "no driver could open this VM with these parameters");
    for (size_t i = 0; i < microvmi_driver_ops_count(); i++) {
        const struct microvmi_driver_ops *ops = microvmi_driver_ops_at(i);
        enum microvmi_status st = open_one(ops, params, count, vm, msg, sizeof msg);
        if (st == MICROVMI_OK)
            return MICROVMI_OK;
        if (used >= 0 && (size_t)used < sizeof all)
            used += snprintf(all + used, sizeof all - (size_t)used, "; %s", msg);
    }
    if (microvmi_driver_ops_count() == 0)
        snprintf(all, sizeof all, "this build has no drivers");
    set_err(err, all);
    return MICROVMI_INIT_FAILED;
}

enum microvmi_status microvmi_init_with_ops(const struct microvmi_driver_ops *ops,
                                            const char *const *params, microvmi_t **vm,
                                            char **err)
{
    if (err)
        *err = NULL;
    if (!ops || !vm)
        return MICROVMI_INVALID_ARG;
    *vm = NULL;
    size_t count = 0;
    while (params && params[count])
        count++;
    char msg[MICROVMI_ERROR_MAX];
    enum microvmi_status st = open_one(ops, params, count, vm, msg, sizeof msg);
    if (st != MICROVMI_OK)
        set_err(err, msg);
    return st;
}

void microvmi_destroy(microvmi_t *vm)
{
    if (!vm)
        return;
    if (vm->ops->close && vm->ctx)
        vm->ops->close(vm->ctx);
    free(vm);
}

const char *microvmi_last_error(const microvmi_t *vm)
{
    if (!vm)
        return "no VM handle (microvmi_init failed or was not called)";
    return vm->error;
}

const char *microvmi_driver_name(const microvmi_t *vm)
{
    return vm ? vm->ops->info.name : NULL;
}

uint64_t microvmi_capabilities(const microvmi_t *vm)
{
    if (!vm)
        return 0;
    return vm->ops->capabilities ? vm->ops->capabilities(vm->ctx) : vm->ops->info.capabilities;
}

enum microvmi_status microvmi_describe(microvmi_t *vm, char *buf, size_t len)
{
    if (!vm || !buf || !len)
        return MICROVMI_INVALID_ARG;
    buf[0] = '\0';
    if (!vm->ops->describe)
        return MICROVMI_OK;
    unsigned gen = vm->error_generation;
    return microvmi_checked(vm, vm->ops->describe(vm->ctx, buf, len), gen, "describe");
}
