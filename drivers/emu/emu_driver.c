/*
 * The emu driver's ops table: what microvmi.h calls, mapped onto the
 * machine (machine.c), the run thread (sched.c), events and SLAT.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"

#define EMU_CAPS                                                                               \
    (MICROVMI_CAP_VCPU_COUNT | MICROVMI_CAP_MAX_GFN | MICROVMI_CAP_PAUSE_RESUME |              \
     MICROVMI_CAP_READ_PHYSICAL | MICROVMI_CAP_WRITE_PHYSICAL | MICROVMI_CAP_READ_VIRTUAL |    \
     MICROVMI_CAP_WRITE_VIRTUAL | MICROVMI_CAP_READ_REGISTERS | MICROVMI_CAP_WRITE_REGISTERS | \
     MICROVMI_CAP_EVENT_CR | MICROVMI_CAP_EVENT_XCR | MICROVMI_CAP_EVENT_DR |                  \
     MICROVMI_CAP_EVENT_MSR | MICROVMI_CAP_EVENT_SINGLESTEP | MICROVMI_CAP_EVENT_INT3 |        \
     MICROVMI_CAP_EVENT_EXCEPTION | MICROVMI_CAP_EVENT_DESCRIPTOR |                            \
     MICROVMI_CAP_EVENT_HYPERCALL | MICROVMI_CAP_EVENT_CPUID | MICROVMI_CAP_EVENT_MEMORY |     \
     MICROVMI_CAP_ALTERNATE_SLAT | MICROVMI_CAP_FOREIGN_MAPPING |                              \
     MICROVMI_CAP_INJECT_EXCEPTION)

static struct emu_vcpu *vcpu_of(struct emu *emu, uint32_t vcpu)
{
    if (vcpu >= emu->nvcpus) {
        microvmi_fail(emu->vm, MICROVMI_INVALID_ARG, "emu: no vCPU %u (the VM has %u)", vcpu,
                      emu->nvcpus);
        return NULL;
    }
    return &emu->vcpu[vcpu];
}

static void emu_close(void *ctx)
{
    struct emu *emu = ctx;
    if (!emu)
        return;
    if (emu->threads_started) {
        emu_pause(emu);
        emu_intercepts_close(emu);
        emu_sched_stop(emu);
    } else if (emu->efd > 0) {
        emu_sched_stop(emu);
    }
    emu_machine_close(emu);
    free(emu->scan);
    free(emu);
}

static enum microvmi_status emu_open(microvmi_t *vm, const struct microvmi_params *params,
                                     void **ctx)
{
    struct emu *emu = calloc(1, sizeof *emu);
    if (!emu)
        return microvmi_fail(vm, MICROVMI_OUT_OF_MEMORY, "emu: out of memory");
    emu->vm = vm;
    emu->efd = -1;
    enum microvmi_status st = emu_machine_open(emu, params);
    if (st == MICROVMI_OK)
        st = emu_sched_start(emu);
    if (st != MICROVMI_OK) {
        emu_close(emu);
        return st;
    }
    *ctx = emu;
    return MICROVMI_OK;
}

static enum microvmi_status emu_describe(void *ctx, char *buf, size_t len)
{
    struct emu *emu = ctx;
    int n = snprintf(buf, len,
                     "kernel: %s\nmemory: %" PRIu64 " MiB\nvcpus: %u\nunicorn: %u.%u%s\n",
                     emu->kernel, emu->ram_size >> 20, emu->nvcpus, emu->uc_major,
                     emu->uc_minor,
                     emu->uc_major == 2 && emu->uc_minor < 1 ? " (guests must be identity-mapped)"
                                                             : "");
    pthread_mutex_lock(&emu->lock);
    for (uint32_t i = 0; i < emu->nvcpus && n >= 0 && (size_t)n < len; i++) {
        const struct emu_vcpu *v = &emu->vcpu[i];
        if (v->halted)
            n += snprintf(buf + n, len - (size_t)n, "%s\n", v->fault);
    }
    pthread_mutex_unlock(&emu->lock);
    return MICROVMI_OK;
}

static enum microvmi_status op_vcpu_count(void *ctx, uint32_t *count)
{
    *count = ((struct emu *)ctx)->nvcpus;
    return MICROVMI_OK;
}

static enum microvmi_status op_max_gfn(void *ctx, uint64_t *max_gfn)
{
    *max_gfn = ((struct emu *)ctx)->npages - 1;
    return MICROVMI_OK;
}

static enum microvmi_status op_pause(void *ctx) { return emu_pause(ctx); }
static enum microvmi_status op_resume(void *ctx) { return emu_resume(ctx); }
static enum microvmi_status op_pause_vcpu(void *ctx, uint32_t vcpu)
{
    return emu_pause_vcpu(ctx, vcpu);
}
static enum microvmi_status op_resume_vcpu(void *ctx, uint32_t vcpu)
{
    return emu_resume_vcpu(ctx, vcpu);
}

static enum microvmi_status regs_access(struct emu *emu, uint32_t vcpu, struct emu_vcpu **out)
{
    struct emu_vcpu *v = vcpu_of(emu, vcpu);
    if (!v)
        return MICROVMI_INVALID_ARG;
    if (!emu_vcpu_stopped(emu, v))
        return microvmi_fail(emu->vm, MICROVMI_BAD_STATE,
                             "emu: vCPU %u is running: pause it (or the VM) first, or use "
                             "the registers of an event's vCPU before replying",
                             vcpu);
    *out = v;
    return MICROVMI_OK;
}

static enum microvmi_status op_read_registers(void *ctx, uint32_t vcpu,
                                              struct microvmi_x86_regs *regs)
{
    struct emu_vcpu *v = NULL;
    enum microvmi_status st = regs_access(ctx, vcpu, &v);
    return st == MICROVMI_OK ? emu_read_regs(v, regs) : st;
}

static enum microvmi_status op_write_registers(void *ctx, uint32_t vcpu,
                                               const struct microvmi_x86_regs *regs)
{
    struct emu_vcpu *v = NULL;
    enum microvmi_status st = regs_access(ctx, vcpu, &v);
    return st == MICROVMI_OK ? emu_write_regs(v, regs) : st;
}

static enum microvmi_status op_read_physical(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    struct emu *emu = ctx;
    if (!emu_gpa_ok(emu, gpa, len))
        return MICROVMI_NO_MEMORY_AT_ADDRESS;
    memcpy(buf, emu->ram + gpa, len);
    return MICROVMI_OK;
}

static enum microvmi_status op_write_physical(void *ctx, uint64_t gpa, const void *buf,
                                              size_t len)
{
    struct emu *emu = ctx;
    if (!emu_gpa_ok(emu, gpa, len))
        return MICROVMI_NO_MEMORY_AT_ADDRESS;
    /* Translated code of that page must go (e.g. a debugger's 0xCC), and no
     * engine may run meanwhile. */
    emu_quiesce(emu);
    memcpy(emu->ram + gpa, buf, len);
    emu_invalidate(emu, gpa, len);
    emu_scan_forget(emu);
    emu_unquiesce(emu);
    return MICROVMI_OK;
}

static enum microvmi_status op_map_physical(void *ctx, uint64_t gpa, size_t len, bool writable,
                                            void **host)
{
    struct emu *emu = ctx;
    (void)writable;
    if (!emu_gpa_ok(emu, gpa, len))
        return microvmi_fail(emu->vm, MICROVMI_NO_MEMORY_AT_ADDRESS,
                             "emu: [0x%" PRIx64 ", +0x%zx) is not guest RAM", gpa, len);
    *host = emu->ram + gpa;
    return MICROVMI_OK;
}

static enum microvmi_status op_unmap_physical(void *ctx, void *host, size_t len)
{
    (void)ctx;
    (void)host;
    (void)len;
    return MICROVMI_OK;
}

static enum microvmi_status op_toggle_intercept(void *ctx, uint32_t vcpu,
                                                const struct microvmi_intercept *what,
                                                bool enabled)
{
    return emu_toggle_intercept(ctx, vcpu, what, enabled);
}

static enum microvmi_status op_listen(void *ctx, int timeout_ms, struct microvmi_event *ev)
{
    return emu_listen(ctx, timeout_ms, ev);
}

static enum microvmi_status op_interrupt(void *ctx) { return emu_interrupt(ctx); }
static int op_event_fd(void *ctx) { return ((struct emu *)ctx)->efd; }

static enum microvmi_status op_reply(void *ctx, const struct microvmi_event *ev,
                                     const struct microvmi_reply *reply)
{
    return emu_reply(ctx, ev, reply);
}

static enum microvmi_status op_inject(void *ctx, uint32_t vcpu, uint8_t vector, bool has_error,
                                      uint32_t error, uint64_t cr2)
{
    return emu_inject(ctx, vcpu, vector, has_error, error, cr2);
}

static enum microvmi_status op_set_page_access(void *ctx, uint16_t view, uint64_t gfn,
                                               enum microvmi_access allowed)
{
    return emu_set_page_access(ctx, view, gfn, allowed);
}

static enum microvmi_status op_get_page_access(void *ctx, uint16_t view, uint64_t gfn,
                                               enum microvmi_access *allowed)
{
    return emu_get_page_access(ctx, view, gfn, allowed);
}

static enum microvmi_status op_view_create(void *ctx, uint16_t *view)
{
    return emu_view_create(ctx, view);
}
static enum microvmi_status op_view_destroy(void *ctx, uint16_t view)
{
    return emu_view_destroy(ctx, view);
}
static enum microvmi_status op_view_switch(void *ctx, uint32_t vcpu, uint16_t view)
{
    return emu_view_switch(ctx, vcpu, view);
}
static enum microvmi_status op_view_change_gfn(void *ctx, uint16_t view, uint64_t old_gfn,
                                               uint64_t new_gfn)
{
    return emu_view_change_gfn(ctx, view, old_gfn, new_gfn);
}

#ifdef MICROVMI_EMU_UNICORN_PAGING
#define EMU_LIMITS_TEXT                                                                        \
    "Unicorn >= 2.1: paging honoured; vCPUs run round-robin in one thread; no devices but "   \
    "COM1; no interrupts (no timer)"
#else
#define EMU_LIMITS_TEXT                                                                        \
    "Unicorn 2.0.1: guests must be identity-mapped (virtual == physical); vCPUs run "         \
    "round-robin in one thread; no devices but COM1; no interrupts (no timer)"
#endif

const struct microvmi_driver_ops microvmi_driver_emu = {
    .info = {
        .name = "emu",
        .description = "embedded x86-64 emulator (Unicorn): boots an ELF kernel, every event "
                       "kind, runs anywhere",
        .capabilities = EMU_CAPS,
        .limits = EMU_LIMITS_TEXT,
        .params = "kernel=PATH vcpus=N mem=SIZE serial=PATH",
    },
    .open = emu_open,
    .close = emu_close,
    .describe = emu_describe,
    .vcpu_count = op_vcpu_count,
    .max_gfn = op_max_gfn,
    .pause = op_pause,
    .resume = op_resume,
    .pause_vcpu = op_pause_vcpu,
    .resume_vcpu = op_resume_vcpu,
    .read_registers = op_read_registers,
    .write_registers = op_write_registers,
    .read_physical = op_read_physical,
    .write_physical = op_write_physical,
    .map_physical = op_map_physical,
    .unmap_physical = op_unmap_physical,
    .toggle_intercept = op_toggle_intercept,
    .listen = op_listen,
    .interrupt = op_interrupt,
    .event_fd = op_event_fd,
    .reply = op_reply,
    .inject_exception = op_inject,
    .set_page_access = op_set_page_access,
    .get_page_access = op_get_page_access,
    .view_create = op_view_create,
    .view_destroy = op_view_destroy,
    .view_switch = op_view_switch,
    .view_change_gfn = op_view_change_gfn,
};
