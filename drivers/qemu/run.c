/* Run control and events. QEMU's gdbstub is all-stop: an event stops every
 * vCPU. The VM runs iff nobody paused it, no event is held and some vCPU may
 * run; every call that changes one of those ends in qemu_sync_run(), which
 * brings QEMU to that state (vCont for the vCPUs that may run, a single
 * stepping vCPU alone, 0x03 to stop). Without a gdbstub, QMP stop/cont. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "qemu.h"
#include "sockutil.h"

#define STOP_TIMEOUT_MS 10000

enum microvmi_status qemu_fail_gdb(struct qemu_ctx *q, enum microvmi_status st)
{
    if (q->gdb.gone)
        q->gone = true;
    return microvmi_fail(q->vm, st, "%s", q->gdb.err[0] ? q->gdb.err : "QEMU gdbstub failed");
}

bool qemu_vm_running(const struct qemu_ctx *q)
{
    if (q->gone)
        return false;
    return q->have_gdb ? q->gdb.running : !q->qmp_stopped;
}

void qemu_invalidate_regs(struct qemu_ctx *q)
{
    for (uint32_t i = 0; i < q->nvcpus; i++)
        q->vcpus[i].g_valid = q->vcpus[i].hmp_valid = false;
    if (q->hmp_prefetch >= 0) {
        qmp_hmp_cancel(q->qmp);
        q->hmp_prefetch = -1;
    }
}

static void notify(struct qemu_ctx *q)
{
    uint64_t one = 1;
    ssize_t n = write(q->notify_fd, &one, sizeof one);
    (void)n;
}

static void unnotify(struct qemu_ctx *q)
{
    uint64_t v;
    ssize_t n = read(q->notify_fd, &v, sizeof v);
    (void)n;
}

static void push_event(struct qemu_ctx *q, const struct microvmi_event *ev)
{
    if (q->qcount == QEMU_EVENT_QUEUE)
        return; /* cannot happen: every queued event stops the VM */
    q->queue[(q->qhead + q->qcount) % QEMU_EVENT_QUEUE] = *ev;
    q->qcount++;
    /* Inside listen() the event is returned at once: no need to make the
     * event fd readable for it. */
    if (!q->in_listen && !q->notified) {
        notify(q);
        q->notified = true;
    }
}

static void mark_gone(struct qemu_ctx *q, int code, bool crashed)
{
    if (q->gone)
        return;
    q->gone = true;
    q->exit_code = code;
    q->crashed = crashed;
}

/* Turn a stop reply into an event (all vCPUs are stopped now). */
static void on_stop(struct qemu_ctx *q, const struct qgdb_stop *s, bool we_interrupted)
{
    qemu_invalidate_regs(q);
    if (s->kind == 'W' || s->kind == 'X' || s->signal == 3 /* QUIT: guest powered off */) {
        mark_gone(q, s->kind == 'W' ? s->signal : 0, s->kind == 'X');
        return;
    }
    uint32_t vcpu = s->thread >= 1 && s->thread <= (int64_t)q->nvcpus ? (uint32_t)(s->thread - 1) : 0;
    bool stepping = false;
    for (uint32_t i = 0; i < q->nvcpus; i++) {
        stepping |= q->vcpus[i].step;
        q->vcpus[i].step = false;
    }
    if (we_interrupted && s->signal == 2 && !s->watch)
        return; /* our own 0x03 */
    struct microvmi_event ev = { .vcpu = vcpu, .token = ++q->next_token };
    if (qemu_rip_cr3(q, vcpu, &ev.rip, &ev.cr3) != MICROVMI_OK && q->gdb.gone) {
        mark_gone(q, 0, false);
        return;
    }
    /* Whoever gets this event will likely read the registers: let QEMU
     * format them while the event travels. */
    qemu_prefetch_hmp(q, vcpu);
    if (s->watch) {
        ev.kind = MICROVMI_EVENT_WATCHPOINT;
        ev.u.watchpoint.address = s->watch_addr;
        ev.u.watchpoint.access = s->watch_access;
    } else if (stepping && s->signal == 5) {
        ev.kind = MICROVMI_EVENT_SINGLESTEP;
        ev.u.singlestep.gpa = 0;
    } else if (s->signal == 5) {
        ev.kind = MICROVMI_EVENT_BREAKPOINT;
        ev.u.breakpoint.address = ev.rip;
    } else {
        ev.kind = MICROVMI_EVENT_PAUSED; /* stopped by someone else (QMP stop, ...) */
    }
    q->vcpus[vcpu].held = true;
    q->vcpus[vcpu].held_token = ev.token;
    push_event(q, &ev);
}

/* Stop QEMU now (gdb running -> stopped); a breakpoint that won the race
 * becomes a queued event. */
enum microvmi_status qemu_stop_now(struct qemu_ctx *q)
{
    if (q->gone)
        return microvmi_fail(q->vm, MICROVMI_VM_GONE, "the VM is gone (QEMU exited)");
    if (!q->have_gdb) {
        if (q->qmp_stopped)
            return MICROVMI_OK;
        char err[256];
        enum microvmi_status st = qmp_execute(q->qmp, "stop", NULL, NULL, QEMU_QMP_TIMEOUT_MS, err,
                                              sizeof err);
        if (st != MICROVMI_OK)
            return microvmi_fail(q->vm, st, "%s", err);
        q->qmp_stopped = true;
        qemu_invalidate_regs(q);
        return MICROVMI_OK;
    }
    if (!q->gdb.running)
        return MICROVMI_OK;
    struct qgdb_stop s;
    enum microvmi_status st = qgdb_interrupt(&q->gdb, STOP_TIMEOUT_MS, &s);
    if (st == MICROVMI_VM_GONE) {
        mark_gone(q, 0, false);
        return microvmi_fail(q->vm, st, "the VM is gone (QEMU exited)");
    }
    if (st != MICROVMI_OK)
        return qemu_fail_gdb(q, st);
    on_stop(q, &s, true);
    return MICROVMI_OK;
}

/* The vCont action the VM should run with now, or "" to stay stopped. */
static void wanted_action(struct qemu_ctx *q, char *out, size_t len)
{
    out[0] = 0;
    if (q->paused || q->gone || q->qcount)
        return;
    for (uint32_t i = 0; i < q->nvcpus; i++)
        if (q->vcpus[i].held)
            return;
    for (uint32_t i = 0; i < q->nvcpus; i++) {
        if (q->vcpus[i].step && !q->vcpus[i].paused) {
            /* one vCPU steps alone: the others stay where they are */
            snprintf(out, len, "vCont;s:%x", i + 1);
            return;
        }
    }
    bool all = true, any = false;
    for (uint32_t i = 0; i < q->nvcpus; i++) {
        all &= !q->vcpus[i].paused;
        any |= !q->vcpus[i].paused;
    }
    if (all) {
        snprintf(out, len, "vCont;c");
        return;
    }
    if (!any)
        return;
    size_t n = snprintf(out, len, "vCont");
    for (uint32_t i = 0; i < q->nvcpus && n + 16 < len; i++)
        if (!q->vcpus[i].paused)
            n += (size_t)snprintf(out + n, len - n, ";c:%x", i + 1);
}

enum microvmi_status qemu_sync_run(struct qemu_ctx *q)
{
    if (q->gone)
        return MICROVMI_OK;
    if (!q->have_gdb) {
        bool want = !q->paused;
        if (want == !q->qmp_stopped)
            return MICROVMI_OK;
        if (!want)
            return qemu_stop_now(q);
        char err[256];
        enum microvmi_status st =
            qmp_execute(q->qmp, "cont", NULL, NULL, QEMU_QMP_TIMEOUT_MS, err, sizeof err);
        if (st != MICROVMI_OK)
            return microvmi_fail(q->vm, st, "%s", err);
        q->qmp_stopped = false;
        return MICROVMI_OK;
    }
    for (int guard = 0; guard < 4; guard++) {
        char want[256];
        wanted_action(q, want, sizeof want);
        if (q->gdb.running && !strcmp(want, q->vcont))
            return MICROVMI_OK;
        if (q->gdb.running) {
            enum microvmi_status st = qemu_stop_now(q);
            if (st != MICROVMI_OK)
                return st;
            continue; /* an event may have arrived: decide again */
        }
        if (!want[0])
            return MICROVMI_OK;
        qemu_invalidate_regs(q);
        enum microvmi_status st = qgdb_resume(&q->gdb, want);
        if (st != MICROVMI_OK)
            return qemu_fail_gdb(q, st);
        snprintf(q->vcont, sizeof q->vcont, "%s", want);
        return MICROVMI_OK;
    }
    return MICROVMI_OK;
}

enum microvmi_status qemu_pause(void *ctx)
{
    struct qemu_ctx *q = ctx;
    if (q->gone)
        return microvmi_fail(q->vm, MICROVMI_VM_GONE, "the VM is gone (QEMU exited)");
    q->paused = true;
    return qemu_sync_run(q);
}

enum microvmi_status qemu_resume(void *ctx)
{
    struct qemu_ctx *q = ctx;
    if (q->gone)
        return microvmi_fail(q->vm, MICROVMI_VM_GONE, "the VM is gone (QEMU exited)");
    q->paused = false;
    return qemu_sync_run(q);
}

static enum microvmi_status vcpu_ok(struct qemu_ctx *q, uint32_t vcpu)
{
    if (vcpu >= q->nvcpus)
        return microvmi_fail(q->vm, MICROVMI_INVALID_ARG, "vCPU %u does not exist (the VM has %u)",
                             vcpu, q->nvcpus);
    if (!q->have_gdb)
        return microvmi_fail(q->vm, MICROVMI_NOT_SUPPORTED,
                             "pausing one vCPU needs QEMU's gdbstub (gdb=ADDRESS)");
    return MICROVMI_OK;
}

enum microvmi_status qemu_pause_vcpu(void *ctx, uint32_t vcpu)
{
    struct qemu_ctx *q = ctx;
    enum microvmi_status st = vcpu_ok(q, vcpu);
    if (st != MICROVMI_OK)
        return st;
    q->vcpus[vcpu].paused = true;
    return qemu_sync_run(q);
}

enum microvmi_status qemu_resume_vcpu(void *ctx, uint32_t vcpu)
{
    struct qemu_ctx *q = ctx;
    enum microvmi_status st = vcpu_ok(q, vcpu);
    if (st != MICROVMI_OK)
        return st;
    q->vcpus[vcpu].paused = false;
    return qemu_sync_run(q);
}

static enum microvmi_status pop_event(struct qemu_ctx *q, struct microvmi_event *ev)
{
    *ev = q->queue[q->qhead];
    q->qhead = (q->qhead + 1) % QEMU_EVENT_QUEUE;
    q->qcount--;
    if (!q->qcount && q->notified && !atomic_load(&q->interrupted)) {
        unnotify(q);
        q->notified = false;
    }
    return MICROVMI_OK;
}

static bool shutdown_event(struct qemu_ctx *q, struct microvmi_event *ev)
{
    if (!q->gone || q->gone_reported)
        return false;
    q->gone_reported = true;
    memset(ev, 0, sizeof *ev);
    ev->kind = MICROVMI_EVENT_SHUTDOWN;
    ev->token = ++q->next_token;
    ev->u.shutdown.exit_code = q->exit_code;
    ev->u.shutdown.crashed = q->crashed;
    return true;
}

/* QMP events while we wait: SHUTDOWN means QEMU is ending. */
static void pump_qmp(struct qemu_ctx *q)
{
    if (qmp_pump(q->qmp) == MICROVMI_VM_GONE) {
        mark_gone(q, 0, false);
        return;
    }
    for (const char *e; (e = qmp_next_event(q->qmp));)
        if (!strcmp(e, "SHUTDOWN") && !q->have_gdb)
            mark_gone(q, 0, false);
}

static enum microvmi_status listen_once(struct qemu_ctx *q, int timeout_ms,
                                        struct microvmi_event *ev);

enum microvmi_status qemu_listen(void *ctx, int timeout_ms, struct microvmi_event *ev)
{
    struct qemu_ctx *q = ctx;
    q->in_listen = true;
    enum microvmi_status st = listen_once(q, timeout_ms, ev);
    q->in_listen = false;
    if (q->qcount && !q->notified) {
        notify(q);
        q->notified = true;
    }
    return st;
}

static enum microvmi_status listen_once(struct qemu_ctx *q, int timeout_ms,
                                        struct microvmi_event *ev)
{
    int64_t deadline = qemu_now_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        if (q->qcount)
            return pop_event(q, ev);
        if (atomic_exchange(&q->interrupted, false)) {
            unnotify(q);
            q->notified = false;
            if (q->qcount) { /* events still queued: keep the fd readable */
                notify(q);
                q->notified = true;
            }
            return MICROVMI_INTERRUPTED;
        }
        /* QMP matters only without a gdbstub (its SHUTDOWN event); with one,
         * drain QEMU's STOP/RESUME chatter now and then so it never piles up. */
        if (!q->have_gdb || (++q->listens & 31) == 0)
            pump_qmp(q);
        if (shutdown_event(q, ev))
            return MICROVMI_OK;
        if (q->gone)
            return microvmi_fail(q->vm, MICROVMI_VM_GONE, "the VM is gone (QEMU exited)");
        if (q->have_gdb && q->gdb.running) {
            struct qgdb_stop s;
            enum microvmi_status st = qgdb_wait_stop(&q->gdb, 0, &s);
            if (st == MICROVMI_OK) {
                on_stop(q, &s, false);
                continue;
            }
            if (st == MICROVMI_VM_GONE || q->gdb.gone) {
                mark_gone(q, 0, false);
                continue;
            }
            if (st != MICROVMI_TIMEOUT)
                return qemu_fail_gdb(q, st);
        }
        int left = timeout_ms < 0 ? -1 : (int)(deadline - qemu_now_ms());
        if (timeout_ms >= 0 && left <= 0)
            return MICROVMI_TIMEOUT;
        struct pollfd p[3] = { { .fd = q->notify_fd, .events = POLLIN },
                               { .fd = q->have_gdb ? -1 : qmp_fd(q->qmp), .events = POLLIN },
                               { .fd = q->have_gdb ? qgdb_fd(&q->gdb) : -1, .events = POLLIN } };
        if (poll(p, 3, left) < 0 && errno != EINTR)
            return microvmi_fail(q->vm, MICROVMI_IO_ERROR, "poll: %s", strerror(errno));
        if (q->have_gdb && !q->gdb.running && (p[2].revents & (POLLHUP | POLLERR | POLLIN))) {
            /* stopped, yet the socket speaks: QEMU closed it */
            struct qgdb_stop s;
            q->gdb.running = true;
            enum microvmi_status st = qgdb_wait_stop(&q->gdb, 0, &s);
            q->gdb.running = false;
            if (st == MICROVMI_VM_GONE || q->gdb.gone)
                mark_gone(q, 0, false);
        }
    }
}

enum microvmi_status qemu_interrupt(void *ctx)
{
    struct qemu_ctx *q = ctx;
    atomic_store(&q->interrupted, true);
    notify(q);
    return MICROVMI_OK;
}

int qemu_event_fd(void *ctx)
{
    struct qemu_ctx *q = ctx;
    return q->epfd;
}

enum microvmi_status qemu_reply(void *ctx, const struct microvmi_event *ev,
                                const struct microvmi_reply *reply)
{
    struct qemu_ctx *q = ctx;
    if (ev->kind == MICROVMI_EVENT_SHUTDOWN)
        return MICROVMI_OK;
    if (ev->vcpu >= q->nvcpus || !q->vcpus[ev->vcpu].held ||
        q->vcpus[ev->vcpu].held_token != ev->token)
        return microvmi_fail(q->vm, MICROVMI_INVALID_ARG,
                             "no unanswered event %" PRIu64 " on vCPU %u", ev->token, ev->vcpu);
    uint32_t flags = reply ? reply->flags : 0;
    uint32_t known = MICROVMI_RESPONSE_SET_REGISTERS | MICROVMI_RESPONSE_EMULATE;
    if (flags & ~known)
        return microvmi_fail(q->vm, MICROVMI_NOT_SUPPORTED,
                             "QEMU's gdbstub events take CONTINUE or SET_REGISTERS only "
                             "(use microvmi_native_step to step)");
    if ((flags & MICROVMI_RESPONSE_SET_REGISTERS) && reply->regs) {
        enum microvmi_status st = qemu_write_registers(q, ev->vcpu, reply->regs);
        if (st != MICROVMI_OK)
            return st;
    }
    q->vcpus[ev->vcpu].held = false;
    return qemu_sync_run(q);
}

static char z_type(enum microvmi_native_kind kind)
{
    switch (kind) {
    case MICROVMI_NATIVE_EXEC: return '0';
    case MICROVMI_NATIVE_HW_EXEC: return '1';
    case MICROVMI_NATIVE_WATCH_WRITE: return '2';
    case MICROVMI_NATIVE_WATCH_READ: return '3';
    case MICROVMI_NATIVE_WATCH_ACCESS: return '4';
    }
    return 0;
}

static enum microvmi_status send_z(struct qemu_ctx *q, char type, uint64_t addr, uint64_t len,
                                   bool insert)
{
    char req[80];
    snprintf(req, sizeof req, "%c%c,%" PRIx64 ",%" PRIx64, insert ? 'Z' : 'z', type, addr, len);
    return qgdb_request_ok(&q->gdb, req, STOP_TIMEOUT_MS);
}

enum microvmi_status qemu_native_breakpoint(void *ctx, enum microvmi_native_kind kind,
                                            uint64_t address, uint64_t len, bool insert)
{
    struct qemu_ctx *q = ctx;
    char type = z_type(kind);
    if (!type)
        return microvmi_fail(q->vm, MICROVMI_INVALID_ARG, "unknown breakpoint kind %d", (int)kind);
    if (!q->have_gdb)
        return microvmi_fail(q->vm, MICROVMI_NOT_SUPPORTED,
                             "breakpoints need QEMU's gdbstub (gdb=ADDRESS)");
    if (type <= '1')
        len = 1; /* x86 breakpoint kind */
    if (len == 0 || len > 8)
        return microvmi_fail(q->vm, MICROVMI_INVALID_ARG, "watchpoint length %" PRIu64
                             " (QEMU takes 1, 2, 4 or 8)", len);
    size_t idx = q->nnative;
    for (size_t i = 0; i < q->nnative; i++)
        if (q->native[i].type == type && q->native[i].addr == address && q->native[i].len == len)
            idx = i;
    if (insert && idx < q->nnative)
        return MICROVMI_OK; /* already there */
    if (!insert && idx == q->nnative)
        return MICROVMI_OK; /* nothing of ours */
    if (insert && q->nnative == QEMU_MAX_NATIVE)
        return microvmi_fail(q->vm, MICROVMI_OUT_OF_MEMORY, "more than %d breakpoints",
                             QEMU_MAX_NATIVE);
    bool was_running = q->gdb.running;
    enum microvmi_status st = qemu_stop_now(q);
    if (st != MICROVMI_OK)
        return st;
    st = send_z(q, type, address, len, insert);
    if (st == MICROVMI_OK) {
        if (insert)
            q->native[q->nnative++] = (struct qemu_native){ type, address, len };
        else
            q->native[idx] = q->native[--q->nnative];
    } else {
        st = microvmi_fail(q->vm, st == MICROVMI_VM_GONE ? st : MICROVMI_NOT_SUPPORTED,
                           "QEMU refused the %s at %#" PRIx64 ": %s",
                           type <= '1' ? "breakpoint" : "watchpoint", address, q->gdb.err);
    }
    if (was_running) {
        enum microvmi_status st2 = qemu_sync_run(q);
        if (st == MICROVMI_OK)
            st = st2;
    }
    return st;
}

void qemu_remove_all_native(struct qemu_ctx *q)
{
    if (!q->have_gdb || q->gone || !q->nnative)
        return;
    if (qemu_stop_now(q) != MICROVMI_OK)
        return;
    for (size_t i = 0; i < q->nnative; i++)
        send_z(q, q->native[i].type, q->native[i].addr, q->native[i].len, false);
    q->nnative = 0;
}

enum microvmi_status qemu_native_step(void *ctx, uint32_t vcpu)
{
    struct qemu_ctx *q = ctx;
    enum microvmi_status st = vcpu_ok(q, vcpu);
    if (st != MICROVMI_OK)
        return st;
    if (q->gdb.running)
        return microvmi_fail(q->vm, MICROVMI_BAD_STATE,
                             "step vCPU %u: the VM is running; pause it first", vcpu);
    q->vcpus[vcpu].step = true;
    return qemu_sync_run(q);
}
