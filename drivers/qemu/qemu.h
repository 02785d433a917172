/* The qemu driver's state, shared by its files (driver.c: open/close/info,
 * run.c: run control and events, regs.c: registers, memory.c: RAM). */
#ifndef MICROVMI_QEMU_QEMU_H
#define MICROVMI_QEMU_QEMU_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "driver.h"
#include "gdbchan.h"
#include "launch.h"
#include "layout.h"
#include "qmp.h"

#define QEMU_MAX_NATIVE 256
#define QEMU_EVENT_QUEUE 8
#define QEMU_QMP_TIMEOUT_MS 10000

struct qemu_vcpu {
    bool paused;        /* microvmi_pause_vcpu */
    bool held;          /* an event of this vCPU awaits microvmi_reply */
    uint64_t held_token;
    bool step;          /* microvmi_native_step pending or in flight */
    bool g_valid, hmp_valid;
    uint8_t g[1024];    /* the gdbstub's `g` bytes while stopped */
    struct microvmi_x86_regs hmp; /* what HMP `info registers` showed */
    /* The HMP-only state (hidden segment parts, GDTR/IDTR, DR0-7) is kept
     * across stops while the vCPU's mode and selectors stay the same, for
     * at most hmp_cache_ms: one HMP round trip costs more than a stop. */
    bool hmp_cached;
    int64_t hmp_time_ms;
    uint64_t hmp_key[9];
};

/* A gdbstub register resolved once to its place in microvmi_x86_regs. */
struct qemu_reg_slot {
    uint32_t goff, gbytes;  /* in the `g` bytes */
    uint32_t soff, ssize;   /* in struct microvmi_x86_regs */
    uint32_t group, regnum;
    const char *name;
};

struct qemu_native {
    char type;          /* '0'..'4' as in Z packets */
    uint64_t addr, len;
};

struct qemu_ctx {
    microvmi_t *vm;
    struct qmp *qmp;
    char qmp_spec[512], gdb_spec[512];
    char version[64];
    char accel[16];

    bool launched;
    struct qemu_launch launch;

    /* guest RAM */
    int mem_fd;
    uint8_t *mem;
    uint64_t mem_size;
    bool mem_writable;
    char mem_path[512];
    char memdev[64];
    struct qemu_layout layout;

    /* the gdbstub channel (absent: QMP-only control, no events) */
    bool have_gdb;
    struct qgdb gdb;
    struct qemu_reg_slot slots[TDESC_MAX_REGS];
    size_t nslots;
    bool slots_ready;
    char vcont[256];    /* the action the VM runs with (while gdb.running) */

    uint32_t nvcpus;
    struct qemu_vcpu *vcpus;
    bool paused;        /* microvmi_pause in effect */
    bool was_paused;    /* the VM was stopped when we attached */
    bool qmp_stopped;   /* QMP-only mode: we sent "stop" */
    bool gone;          /* QEMU exited / the guest shut down */
    bool gone_reported;
    int exit_code;
    bool crashed;

    struct qemu_native native[QEMU_MAX_NATIVE];
    size_t nnative;

    struct microvmi_event queue[QEMU_EVENT_QUEUE];
    size_t qhead, qcount;
    uint64_t next_token;

    int hmp_prefetch;   /* vCPU whose `info registers` is on its way, or -1 */
    uint64_t hmp_cache_ms;

    int epfd;           /* microvmi_event_fd: gdb socket + notify */
    int notify_fd;      /* eventfd: interrupt() and queued events */
    atomic_bool interrupted;
    bool notified;      /* notify_fd made readable for queued events */
    bool in_listen;
    unsigned listens;
};

/* run.c */
enum microvmi_status qemu_sync_run(struct qemu_ctx *q);
enum microvmi_status qemu_stop_now(struct qemu_ctx *q);
bool qemu_vm_running(const struct qemu_ctx *q);
void qemu_invalidate_regs(struct qemu_ctx *q);
enum microvmi_status qemu_fail_gdb(struct qemu_ctx *q, enum microvmi_status st);
enum microvmi_status qemu_pause(void *ctx);
enum microvmi_status qemu_resume(void *ctx);
enum microvmi_status qemu_pause_vcpu(void *ctx, uint32_t vcpu);
enum microvmi_status qemu_resume_vcpu(void *ctx, uint32_t vcpu);
enum microvmi_status qemu_listen(void *ctx, int timeout_ms, struct microvmi_event *ev);
enum microvmi_status qemu_interrupt(void *ctx);
int qemu_event_fd(void *ctx);
enum microvmi_status qemu_reply(void *ctx, const struct microvmi_event *ev,
                                const struct microvmi_reply *reply);
enum microvmi_status qemu_native_breakpoint(void *ctx, enum microvmi_native_kind kind,
                                            uint64_t address, uint64_t len, bool insert);
enum microvmi_status qemu_native_step(void *ctx, uint32_t vcpu);
void qemu_remove_all_native(struct qemu_ctx *q);

/* regs.c */
enum microvmi_status qemu_read_registers(void *ctx, uint32_t vcpu, struct microvmi_x86_regs *regs);
enum microvmi_status qemu_write_registers(void *ctx, uint32_t vcpu,
                                          const struct microvmi_x86_regs *regs);
/* Ask QMP for a stopped vCPU's `info registers` now, read it later. */
void qemu_prefetch_hmp(struct qemu_ctx *q, uint32_t vcpu);
/* rip and cr3 of a stopped vCPU from the gdbstub alone (cheap). */
enum microvmi_status qemu_rip_cr3(struct qemu_ctx *q, uint32_t vcpu, uint64_t *rip, uint64_t *cr3);
/* `g` bytes -> regs (GPR, CONTROL, FPU, MSRS groups). */
void qemu_regs_from_g(struct qemu_ctx *q, const uint8_t *g, struct microvmi_x86_regs *r);

/* memory.c */
enum microvmi_status qemu_mem_open(struct qemu_ctx *q, const char *mem_param);
void qemu_mem_close(struct qemu_ctx *q);
enum microvmi_status qemu_read_physical(void *ctx, uint64_t gpa, void *buf, size_t len);
enum microvmi_status qemu_write_physical(void *ctx, uint64_t gpa, const void *buf, size_t len);
enum microvmi_status qemu_map_physical(void *ctx, uint64_t gpa, size_t len, bool writable,
                                       void **host);
enum microvmi_status qemu_unmap_physical(void *ctx, void *host, size_t len);
enum microvmi_status qemu_max_gfn(void *ctx, uint64_t *max_gfn);

#endif
