/* The qemu driver: a real, unmodified QEMU (7.2+), attached to through its
 * QMP socket, its gdbstub and the file behind its guest RAM — or launched by
 * us with all three set up. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "qemu.h"
#include "sockutil.h"

#define QEMU_BASE_CAPS                                                                     \
    (MICROVMI_CAP_VCPU_COUNT | MICROVMI_CAP_MAX_GFN | MICROVMI_CAP_PAUSE_RESUME |          \
     MICROVMI_CAP_READ_PHYSICAL | MICROVMI_CAP_WRITE_PHYSICAL | MICROVMI_CAP_READ_VIRTUAL | \
     MICROVMI_CAP_WRITE_VIRTUAL | MICROVMI_CAP_READ_REGISTERS)
#define QEMU_GDB_CAPS                                                                      \
    (MICROVMI_CAP_WRITE_REGISTERS | MICROVMI_CAP_NATIVE_BREAKPOINT |                       \
     MICROVMI_CAP_NATIVE_HW_BREAKPOINT | MICROVMI_CAP_NATIVE_WATCHPOINT |                  \
     MICROVMI_CAP_NATIVE_SINGLESTEP)
#define QEMU_ALL_CAPS (QEMU_BASE_CAPS | QEMU_GDB_CAPS | MICROVMI_CAP_FOREIGN_MAPPING)

static void qemu_close(void *ctx)
{
    struct qemu_ctx *q = ctx;
    if (!q)
        return;
    if (q->have_gdb) {
        if (!q->gone) {
            qemu_remove_all_native(q);
            if (q->gdb.running) {
                struct qgdb_stop s;
                qgdb_interrupt(&q->gdb, 3000, &s);
            }
        }
        /* D: QEMU drops every breakpoint and resumes the VM. */
        if (q->launched)
            qgdb_close(&q->gdb);
        else
            qgdb_detach_close(&q->gdb);
    }
    char err[256];
    if (q->qmp && !q->gone) {
        if (q->launched) {
            qmp_execute(q->qmp, "quit", NULL, NULL, 3000, err, sizeof err);
        } else if (q->was_paused && q->have_gdb) {
            /* the detach resumed it: leave it as we found it */
            qmp_execute(q->qmp, "stop", NULL, NULL, 3000, err, sizeof err);
        } else if (!q->have_gdb && q->qmp_stopped && !q->was_paused) {
            qmp_execute(q->qmp, "cont", NULL, NULL, 3000, err, sizeof err);
        }
    }
    qmp_close(q->qmp);
    if (q->launched)
        qemu_launch_reap(&q->launch, 5000);
    qemu_mem_close(q);
    if (q->epfd >= 0)
        close(q->epfd);
    if (q->notify_fd >= 0)
        close(q->notify_fd);
    free(q->vcpus);
    free(q);
}

static enum microvmi_status launch_qemu(struct qemu_ctx *q, const struct microvmi_params *p,
                                        const char **mem_param)
{
    struct qemu_launch_opts o = {
        .qemu = microvmi_param(p, "qemu"),
        .kernel = microvmi_param(p, "kernel"),
        .initrd = microvmi_param(p, "initrd"),
        .append = microvmi_param(p, "append"),
        .accel = microvmi_param(p, "accel"),
        .machine = microvmi_param(p, "machine"),
        .cpu = microvmi_param(p, "cpu"),
        .serial = microvmi_param(p, "serial"),
    };
    uint64_t smp = 1, paused = 0;
    enum microvmi_status st = microvmi_param_u64(q->vm, p, "smp", 1, &smp);
    if (st == MICROVMI_OK)
        st = microvmi_param_u64(q->vm, p, "paused", 0, &paused);
    if (st != MICROVMI_OK)
        return st;
    if (smp < 1 || smp > 64)
        return microvmi_fail(q->vm, MICROVMI_INVALID_ARG, "smp=%" PRIu64 ": use 1..64", smp);
    o.smp = (unsigned)smp;
    o.paused = paused != 0;
    /* mem= is a size when launching (mem=256M), or the RAM file to use. */
    const char *mem = microvmi_param(p, "mem");
    uint64_t size = 128ull << 20;
    if (mem && !microvmi_parse_u64(mem, &size)) {
        o.memfile = mem;
        st = microvmi_param_u64(q->vm, p, "memsize", 128ull << 20, &size);
        if (st != MICROVMI_OK)
            return st;
    } else if (microvmi_param(p, "memsize")) {
        return microvmi_fail(q->vm, MICROVMI_INVALID_ARG, "memsize= goes with mem=PATH only");
    }
    if (size < (16ull << 20) || size % (1ull << 20))
        return microvmi_fail(q->vm, MICROVMI_INVALID_ARG,
                             "guest RAM of %" PRIu64 " bytes: use whole MiB, at least 16M", size);
    o.mem_size = size;
    char err[512];
    st = qemu_launch_start(&o, &q->launch, err, sizeof err);
    if (st != MICROVMI_OK)
        return microvmi_fail(q->vm, st, "%s", err);
    q->launched = true;
    snprintf(q->qmp_spec, sizeof q->qmp_spec, "%s", q->launch.qmp);
    snprintf(q->gdb_spec, sizeof q->gdb_spec, "%s", q->launch.gdb);
    *mem_param = q->launch.memfile;
    snprintf(q->accel, sizeof q->accel, "%s", o.accel ? o.accel : "tcg");
    return MICROVMI_OK;
}

static enum microvmi_status query_vm(struct qemu_ctx *q)
{
    char err[256];
    json_object *ret = NULL, *v;
    enum microvmi_status st =
        qmp_execute(q->qmp, "query-status", NULL, &ret, QEMU_QMP_TIMEOUT_MS, err, sizeof err);
    if (st != MICROVMI_OK)
        return microvmi_fail(q->vm, MICROVMI_INIT_FAILED, "%s", err);
    q->was_paused = json_object_object_get_ex(ret, "running", &v) && !json_object_get_boolean(v);
    json_object_put(ret);
    st = qmp_execute(q->qmp, "query-cpus-fast", NULL, &ret, QEMU_QMP_TIMEOUT_MS, err, sizeof err);
    if (st != MICROVMI_OK)
        return microvmi_fail(q->vm, MICROVMI_INIT_FAILED, "%s", err);
    size_t n = json_object_is_type(ret, json_type_array) ? json_object_array_length(ret) : 0;
    for (size_t i = 0; i < n; i++) {
        json_object *cpu = json_object_array_get_idx(ret, i), *t;
        if (json_object_object_get_ex(cpu, "target", &t) &&
            strcmp(json_object_get_string(t), "x86_64") != 0) {
            json_object_put(ret);
            return microvmi_fail(q->vm, MICROVMI_INIT_FAILED,
                                 "this QEMU emulates %s; the qemu driver needs qemu-system-x86_64",
                                 json_object_get_string(t));
        }
    }
    json_object_put(ret);
    if (!n)
        return microvmi_fail(q->vm, MICROVMI_INIT_FAILED, "QEMU reports no vCPUs");
    q->nvcpus = (uint32_t)n;
    q->vcpus = calloc(n, sizeof *q->vcpus);
    if (!q->vcpus)
        return microvmi_fail(q->vm, MICROVMI_OUT_OF_MEMORY, "out of host memory");
    if (qmp_execute(q->qmp, "query-version", NULL, &ret, QEMU_QMP_TIMEOUT_MS, err, sizeof err) ==
        MICROVMI_OK) {
        json_object *qv, *maj, *min, *mic;
        if (json_object_object_get_ex(ret, "qemu", &qv) &&
            json_object_object_get_ex(qv, "major", &maj) &&
            json_object_object_get_ex(qv, "minor", &min) &&
            json_object_object_get_ex(qv, "micro", &mic))
            snprintf(q->version, sizeof q->version, "%d.%d.%d", json_object_get_int(maj),
                     json_object_get_int(min), json_object_get_int(mic));
        json_object_put(ret);
    }
    if (!q->accel[0] &&
        qmp_execute(q->qmp, "query-kvm", NULL, &ret, QEMU_QMP_TIMEOUT_MS, err, sizeof err) ==
            MICROVMI_OK) {
        snprintf(q->accel, sizeof q->accel, "%s",
                 json_object_object_get_ex(ret, "enabled", &v) && json_object_get_boolean(v)
                     ? "kvm" : "tcg");
        json_object_put(ret);
    }
    return MICROVMI_OK;
}

static enum microvmi_status setup_fds(struct qemu_ctx *q)
{
    q->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    q->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (q->notify_fd < 0 || q->epfd < 0)
        return microvmi_fail(q->vm, MICROVMI_IO_ERROR, "eventfd/epoll: %s", strerror(errno));
    struct epoll_event e = { .events = EPOLLIN };
    epoll_ctl(q->epfd, EPOLL_CTL_ADD, q->notify_fd, &e);
    if (q->have_gdb) {
        e.events = EPOLLIN | EPOLLRDHUP;
        epoll_ctl(q->epfd, EPOLL_CTL_ADD, qgdb_fd(&q->gdb), &e);
    } else {
        e.events = EPOLLIN | EPOLLRDHUP;
        epoll_ctl(q->epfd, EPOLL_CTL_ADD, qmp_fd(q->qmp), &e);
    }
    return MICROVMI_OK;
}

static enum microvmi_status qemu_open(microvmi_t *vm, const struct microvmi_params *p, void **out)
{
    struct qemu_ctx *q = calloc(1, sizeof *q);
    if (!q)
        return microvmi_fail(vm, MICROVMI_OUT_OF_MEMORY, "out of host memory");
    q->vm = vm;
    q->mem_fd = q->epfd = q->notify_fd = -1;
    q->hmp_prefetch = -1;
    uint64_t launch = 0;
    enum microvmi_status st = microvmi_param_u64(vm, p, "launch", 0, &launch);
    if (st == MICROVMI_OK)
        st = microvmi_param_u64(vm, p, "hmp_cache_ms", 1000, &q->hmp_cache_ms);
    const char *mem_param = microvmi_param(p, "mem");
    if (st == MICROVMI_OK && launch) {
        st = launch_qemu(q, p, &mem_param);
    } else if (st == MICROVMI_OK) {
        const char *qmp = microvmi_param(p, "qmp"), *gdb = microvmi_param(p, "gdb");
        if (!qmp || !*qmp)
            st = microvmi_fail(vm, MICROVMI_INVALID_ARG,
                               "qemu driver: give qmp=SOCKET (QEMU's -qmp unix:PATH,server=on,"
                               "wait=off) to attach, or launch=1 kernel=PATH to start a VM");
        snprintf(q->qmp_spec, sizeof q->qmp_spec, "%s", qmp ? qmp : "");
        snprintf(q->gdb_spec, sizeof q->gdb_spec, "%s", gdb ? gdb : "");
    }
    char err[512];
    if (st == MICROVMI_OK && q->launched) {
        /* Wait for QEMU's QMP socket, but not for a QEMU that already died
         * (bad kernel, bad option): its own words are in the log. */
        int64_t deadline = qemu_now_ms() + 15000;
        while (access(q->launch.qmp, F_OK) != 0) {
            bool alive = qemu_launch_alive(&q->launch);
            if (!alive || qemu_now_ms() > deadline) {
                char tail[400] = "";
                qemu_launch_log_tail(&q->launch, tail, sizeof tail);
                st = microvmi_fail(vm, MICROVMI_INIT_FAILED, "QEMU %s: %s",
                                   alive ? "made no QMP socket within 15 s" : "exited at once",
                                   tail[0] ? tail : "it printed nothing");
                break;
            }
            struct timespec ts = { 0, 20 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    if (st == MICROVMI_OK) {
        st = qmp_connect(q->qmp_spec, q->launched ? 15000 : 1000, &q->qmp, err, sizeof err);
        if (st != MICROVMI_OK) {
            char tail[300] = "";
            if (q->launched)
                qemu_launch_log_tail(&q->launch, tail, sizeof tail);
            st = microvmi_fail(vm, MICROVMI_INIT_FAILED, "%s%s%s", err,
                               tail[0] ? "; QEMU said: " : "", tail);
        }
    }
    if (st == MICROVMI_OK)
        st = query_vm(q);
    if (st == MICROVMI_OK)
        st = qemu_mem_open(q, mem_param && *mem_param ? mem_param : NULL);
    if (st == MICROVMI_OK && q->gdb_spec[0]) {
        st = qgdb_open(&q->gdb, q->gdb_spec, q->launched ? 15000 : 3000);
        q->have_gdb = true; /* close() must close it even after a failed open */
        if (st != MICROVMI_OK)
            st = microvmi_fail(vm, MICROVMI_INIT_FAILED, "%s", q->gdb.err);
    }
    if (st == MICROVMI_OK)
        st = setup_fds(q);
    if (st == MICROVMI_OK && q->have_gdb && q->was_paused)
        q->paused = false; /* gdb connect stopped it; it was stopped anyway */
    if (st == MICROVMI_OK && q->have_gdb && !q->was_paused)
        st = qemu_sync_run(q); /* connecting the debugger stopped it: go on */
    if (st == MICROVMI_OK && q->have_gdb && q->was_paused)
        q->paused = true;
    if (st == MICROVMI_OK && !q->have_gdb)
        q->qmp_stopped = q->was_paused;
    if (st != MICROVMI_OK) {
        qemu_close(q);
        return st;
    }
    *out = q;
    return MICROVMI_OK;
}

static uint64_t qemu_capabilities(void *ctx)
{
    struct qemu_ctx *q = ctx;
    uint64_t caps = QEMU_BASE_CAPS;
    if (q->have_gdb)
        caps |= QEMU_GDB_CAPS;
    if (q->mem)
        caps |= MICROVMI_CAP_FOREIGN_MAPPING;
    return caps;
}

static enum microvmi_status qemu_describe(void *ctx, char *buf, size_t len)
{
    struct qemu_ctx *q = ctx;
    size_t n = 0;
#define OUT(...) (n += (size_t)snprintf(buf + n, n < len ? len - n : 0, __VA_ARGS__))
    OUT("qemu: QEMU %s, accel %s, %u vCPU(s), %s\n", q->version[0] ? q->version : "?",
        q->accel[0] ? q->accel : "?", q->nvcpus,
        q->gone ? "gone" : qemu_vm_running(q) ? "running" : "stopped");
    if (q->launched)
        OUT("launched: pid %d, console %s, QEMU log %s\n", (int)q->launch.pid, q->launch.serial,
            q->launch.log);
    OUT("qmp: %s\n", q->qmp_spec);
    if (q->have_gdb)
        OUT("gdbstub: %s (events, registers, breakpoints; PacketSize via QEMU)\n", q->gdb_spec);
    else
        OUT("gdbstub: none (no events, no register writes, no breakpoints): give gdb=ADDRESS\n");
    if (q->mem)
        OUT("memory: RAM file %s (backend %s, %" PRIu64 " MiB, %s), read directly\n", q->mem_path,
            q->memdev, q->mem_size >> 20, q->mem_writable ? "read-write" : "read-only");
    else
        OUT("memory: no RAM file: through QEMU's gdbstub in physical mode (slow path, stops the "
            "VM per access); start QEMU with memory-backend-file,share=on and give mem=PATH\n");
    for (size_t i = 0; i < q->layout.count; i++)
        OUT("ram: gpa %#" PRIx64 "-%#" PRIx64 " at file offset %#" PRIx64 "\n", q->layout.r[i].gpa,
            q->layout.r[i].gpa + q->layout.r[i].size - 1, q->layout.r[i].offset);
#undef OUT
    return n < len ? MICROVMI_OK : MICROVMI_INVALID_ARG;
}

static enum microvmi_status qemu_vcpu_count(void *ctx, uint32_t *count)
{
    struct qemu_ctx *q = ctx;
    *count = q->nvcpus;
    return MICROVMI_OK;
}

const struct microvmi_driver_ops microvmi_driver_qemu = {
    .info = {
        .name = "qemu",
        .description = "a real, unmodified QEMU 7.2+ (TCG or KVM): RAM file, QMP, its gdbstub",
        .capabilities = QEMU_ALL_CAPS,
        .limits = "no CR/MSR/CPUID/int3/SLAT intercepts through QEMU's gdbstub (native "
                  "breakpoints, watchpoints and single-step instead); all-stop; no syscall MSRs; "
                  "hidden segment state, GDTR/IDTR, DR0-7 cached up to hmp_cache_ms (1000) "
                  "while selectors and CR0/CR4/EFER stay the same",
        .params = "qmp=SOCKET gdb=ADDRESS mem=RAMFILE|SIZE launch=0|1 kernel=PATH initrd=PATH "
                  "append=CMDLINE smp=N accel=tcg|kvm qemu=BINARY machine=pc|q35 cpu=MODEL "
                  "serial=FILE memsize=SIZE paused=0|1 hmp_cache_ms=MS",
    },
    .open = qemu_open,
    .close = qemu_close,
    .capabilities = qemu_capabilities,
    .describe = qemu_describe,
    .vcpu_count = qemu_vcpu_count,
    .max_gfn = qemu_max_gfn,
    .pause = qemu_pause,
    .resume = qemu_resume,
    .pause_vcpu = qemu_pause_vcpu,
    .resume_vcpu = qemu_resume_vcpu,
    .read_registers = qemu_read_registers,
    .write_registers = qemu_write_registers,
    .read_physical = qemu_read_physical,
    .write_physical = qemu_write_physical,
    .map_physical = qemu_map_physical,
    .unmap_physical = qemu_unmap_physical,
    .listen = qemu_listen,
    .interrupt = qemu_interrupt,
    .event_fd = qemu_event_fd,
    .reply = qemu_reply,
    .native_breakpoint = qemu_native_breakpoint,
    .native_step = qemu_native_step,
};
