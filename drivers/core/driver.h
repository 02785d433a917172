/*
 * The driver interface: what a driver implements behind microvmi.h.
 * Internal to drivers/ — nothing outside drivers/ (stub/, cli/) includes it;
 * unit tests may.
 *
 * A driver is one const ops table. Any op may be NULL: core then answers
 * MICROVMI_NOT_SUPPORTED with a message naming the driver and the operation.
 * Core does, once for every driver: parameter checking, page splitting of
 * physical reads/writes, the guest page-table walk (unless the driver sets
 * translate), virtual reads/writes, capability bookkeeping, last-error.
 */
#ifndef MICROVMI_CORE_DRIVER_H
#define MICROVMI_CORE_DRIVER_H

#include "microvmi.h"

#include <stdarg.h>

#define MICROVMI_PAGE_SIZE 4096u
#define MICROVMI_PAGE_SHIFT 12

/* key=value parameters as given to microvmi_init (already validated against
 * the driver's info->params keys by core). */
struct microvmi_params {
    size_t count;
    const char *const *kv; /* "key=value" strings */
};

/* The value of key, or NULL when absent. */
const char *microvmi_param(const struct microvmi_params *p, const char *key);
/* Integer with optional K/M/G/T suffix (powers of 1024) and 0x prefix.
 * Absent: *out = dflt, OK. Malformed: INVALID_ARG and a message on vm. */
enum microvmi_status microvmi_param_u64(microvmi_t *vm, const struct microvmi_params *p,
                                        const char *key, uint64_t dflt, uint64_t *out);

/* Record the handle's last-error message (printf-style) and return status,
 * so drivers write: return microvmi_fail(vm, MICROVMI_IO_ERROR, "...", ...); */
enum microvmi_status microvmi_fail(microvmi_t *vm, enum microvmi_status status,
                                   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

struct microvmi_driver_ops {
    struct microvmi_driver_info info;

    /* Open: parse params, connect, allocate *ctx. On failure set a message
     * with microvmi_fail (it becomes init's *err) and leave *ctx NULL. */
    enum microvmi_status (*open)(microvmi_t *vm, const struct microvmi_params *params,
                                 void **ctx);
    /* Undo everything: intercepts, page permissions, views, native
     * breakpoints; resume the VM if paused by us; free ctx. */
    void (*close)(void *ctx);
    /* Capabilities of this opened VM (default: info.capabilities). */
    uint64_t (*capabilities)(void *ctx);
    enum microvmi_status (*describe)(void *ctx, char *buf, size_t len);

    enum microvmi_status (*vcpu_count)(void *ctx, uint32_t *count);
    enum microvmi_status (*max_gfn)(void *ctx, uint64_t *max_gfn);
    enum microvmi_status (*pause)(void *ctx);
    enum microvmi_status (*resume)(void *ctx);
    enum microvmi_status (*pause_vcpu)(void *ctx, uint32_t vcpu);
    enum microvmi_status (*resume_vcpu)(void *ctx, uint32_t vcpu);

    enum microvmi_status (*read_registers)(void *ctx, uint32_t vcpu,
                                           struct microvmi_x86_regs *regs);
    enum microvmi_status (*write_registers)(void *ctx, uint32_t vcpu,
                                            const struct microvmi_x86_regs *regs);

    /* Called by core with [gpa, gpa+len) inside one 4 KiB page (len >= 1).
     * Return NO_MEMORY_AT_ADDRESS for an unbacked page. */
    enum microvmi_status (*read_physical)(void *ctx, uint64_t gpa, void *buf, size_t len);
    enum microvmi_status (*write_physical)(void *ctx, uint64_t gpa, const void *buf, size_t len);
    enum microvmi_status (*map_physical)(void *ctx, uint64_t gpa, size_t len, bool writable,
                                         void **host);
    enum microvmi_status (*unmap_physical)(void *ctx, void *host, size_t len);
    /* Optional native translation; NULL means core walks the page tables. */
    enum microvmi_status (*translate)(void *ctx, const struct microvmi_address_space *as,
                                      uint64_t gva, struct microvmi_translation *out);

    enum microvmi_status (*toggle_intercept)(void *ctx, uint32_t vcpu,
                                             const struct microvmi_intercept *what, bool enabled);
    enum microvmi_status (*listen)(void *ctx, int timeout_ms, struct microvmi_event *ev);
    enum microvmi_status (*interrupt)(void *ctx);
    int (*event_fd)(void *ctx);
    enum microvmi_status (*reply)(void *ctx, const struct microvmi_event *ev,
                                  const struct microvmi_reply *reply);
    enum microvmi_status (*inject_exception)(void *ctx, uint32_t vcpu, uint8_t vector,
                                             bool has_error_code, uint32_t error_code,
                                             uint64_t cr2);

    enum microvmi_status (*set_page_access)(void *ctx, uint16_t view, uint64_t gfn,
                                            enum microvmi_access allowed);
    enum microvmi_status (*get_page_access)(void *ctx, uint16_t view, uint64_t gfn,
                                            enum microvmi_access *allowed);
    enum microvmi_status (*view_create)(void *ctx, uint16_t *view);
    enum microvmi_status (*view_destroy)(void *ctx, uint16_t view);
    enum microvmi_status (*view_switch)(void *ctx, uint32_t vcpu, uint16_t view);
    enum microvmi_status (*view_change_gfn)(void *ctx, uint16_t view, uint64_t old_gfn,
                                            uint64_t new_gfn);

    enum microvmi_status (*native_breakpoint)(void *ctx, enum microvmi_native_kind kind,
                                              uint64_t address, uint64_t len, bool insert);
    enum microvmi_status (*native_step)(void *ctx, uint32_t vcpu);
};

/* The compiled-in drivers (drivers/core/registry.c). */
size_t microvmi_driver_ops_count(void);
const struct microvmi_driver_ops *microvmi_driver_ops_at(size_t index);
const struct microvmi_driver_ops *microvmi_driver_ops_find(const char *name);

/* microvmi_parse_u64 (the parser behind microvmi_param_u64) is public: microvmi.h. */

/* Check "key=value" strings against a driver's declared params ("key=..."
 * words): every entry has a '=', a declared key, and no key repeats. On
 * failure writes a message listing the accepted keys into msg. */
enum microvmi_status microvmi_params_check(const char *declared, const char *const *kv,
                                           size_t count, char *msg, size_t msglen);

#endif /* MICROVMI_CORE_DRIVER_H */
