/*
 * The run thread: every runnable vCPU gets a time slice in turn (one thread,
 * so guest `lock` instructions stay atomic); a ticker thread ends slices.
 * Pause, resume and quiesce stop the current engine and wait for the run
 * thread to say it is idle. Events queue here until listen() takes them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "emu.h"

#define SLICE_US 1000
/* After listen() returned an event, the caller usually replies and listens
 * again at once: leave the VM to it that long before the run thread takes
 * over, so an event costs no thread switch. */
#define API_TURN_NS 300000ull

static void deadline_after_ns(struct timespec *ts, uint64_t ns)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)(ns / 1000000000ull);
    ts->tv_nsec += (long)(ns % 1000000000ull);
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static bool runnable_locked(const struct emu *emu, const struct emu_vcpu *v)
{
    return !emu->vm_paused && !emu->quiesce && !v->paused && !v->held && !v->halted;
}

static struct emu_vcpu *pick_locked(struct emu *emu)
{
    for (uint32_t k = 0; k < emu->nvcpus; k++) {
        uint32_t i = (emu->rr_next + k) % emu->nvcpus;
        if (runnable_locked(emu, &emu->vcpu[i])) {
            emu->rr_next = i + 1;
            return &emu->vcpu[i];
        }
    }
    return NULL;
}

static bool others_runnable_locked(const struct emu *emu, const struct emu_vcpu *cur)
{
    for (uint32_t i = 0; i < emu->nvcpus; i++)
        if (&emu->vcpu[i] != cur && runnable_locked(emu, &emu->vcpu[i]))
            return true;
    return false;
}

static void stop_current_locked(struct emu *emu)
{
    /* The engine stops itself at its next block (events.c on_block). */
    if (emu->current)
        atomic_store(&emu->stop_asked, true);
}

/* Wait until the run thread left the engine (or until pred says we may go). */
static void wait_idle_locked(struct emu *emu, const struct emu_vcpu *only)
{
    while (emu->current && (!only || emu->current == only)) {
        stop_current_locked(emu);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&emu->cv_idle, &emu->lock, &ts);
    }
}

/* One slice of one vCPU. Returns a fault message when the engine died. */
static bool run_once(struct emu *emu, struct emu_vcpu *v, char *why, size_t len)
{
    emu_drbp_sync(v);
    v->restart = false;
    emu_step_prepare(v);
    uc_err e = UC_ERR_OK;
    if (!v->ev_ready && !v->dead)
        e = uc_emu_start(v->uc, emu_reg(v, UC_X86_REG_RIP), 0, 0, 0);
    if (v->rip_set) {
        v->rip_set = false;
        emu_set_reg(v, UC_X86_REG_RIP, v->new_rip);
    }
    emu_step_finish(v);
    if (v->emulate_done) {
        v->emulate_done = false;
        emu_slat_restore(v, v->emulate_gfn);
    }
    if (v->dead) {
        v->dead = false;
        snprintf(why, len, "%s", v->fault);
        return false;
    }
    if (v->ev_ready) {
        v->ev.rip = emu_reg(v, UC_X86_REG_RIP);
        if (v->ev.kind == MICROVMI_EVENT_MEMORY && v->ev.u.memory.access != MICROVMI_ACCESS_X) {
            uint64_t at = emu_fault_rip(v, v->ev.rip, v->ev.u.memory.gva);
            if (at != v->ev.rip) {
                emu_set_reg(v, UC_X86_REG_RIP, at);
                v->ev.rip = at;
            }
        }
        v->ev.cr3 = emu_reg(v, UC_X86_REG_CR3);
        return true;
    }
    if (v->restart)
        return true;
    if (e != UC_ERR_OK) {
        snprintf(why, len, "vCPU %u stopped: %s at rip 0x%" PRIx64, v->id, uc_strerror(e),
                 emu_reg(v, UC_X86_REG_RIP));
        return false;
    }
    if (!atomic_load(&emu->stop_asked)) {
        /* Nothing of ours stopped it: the guest executed hlt. No interrupt
         * will ever come (the machine has no timer), so it stays halted. */
        snprintf(why, len, "vCPU %u halted (hlt) at rip 0x%" PRIx64, v->id,
                 emu_reg(v, UC_X86_REG_RIP));
        v->in_hlt = true;
        return false;
    }
    return true;
}

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Run one slice of v on the calling thread (lock held on entry and exit). */
static void run_slice_locked(struct emu *emu, struct emu_vcpu *v)
{
    emu->current = v;
    atomic_store(&emu->stop_asked, false);
    pthread_mutex_unlock(&emu->lock);
    char why[sizeof v->fault];
    bool alive = run_once(emu, v, why, sizeof why);
    pthread_mutex_lock(&emu->lock);
    emu->current = NULL;
    if (!alive) {
        v->halted = true;
        memcpy(v->fault, why, sizeof v->fault);
    }
    if (v->ev_ready) {
        v->ev_ready = false;
        emu_post_event_locked(emu, v);
    }
    pthread_cond_broadcast(&emu->cv_idle);
}

/* The run thread runs the VM whenever no listen() does it itself (see
 * emu_listen) and the caller is not about to (right after an event). */
static void *run_main(void *arg)
{
    struct emu *emu = arg;
    pthread_mutex_lock(&emu->lock);
    while (!emu->quit) {
        uint64_t now = mono_ns();
        if (emu->listener || now < emu->api_turn_until) {
            /* Timed: nobody has to wake us when the caller's turn ends. */
            uint64_t ns = 1000000;
            if (!emu->listener && emu->api_turn_until - now < ns)
                ns = emu->api_turn_until - now;
            struct timespec ts;
            deadline_after_ns(&ts, ns);
            pthread_cond_timedwait(&emu->cv_run, &emu->lock, &ts);
            continue;
        }
        struct emu_vcpu *v = pick_locked(emu);
        if (!v) {
            pthread_cond_broadcast(&emu->cv_idle);
            emu->run_idle = true;
            pthread_cond_wait(&emu->cv_run, &emu->lock);
            emu->run_idle = false;
            continue;
        }
        run_slice_locked(emu, v);
    }
    pthread_mutex_unlock(&emu->lock);
    return NULL;
}

static void *tick_main(void *arg)
{
    struct emu *emu = arg;
    struct timespec slice = {.tv_sec = 0, .tv_nsec = (long)emu->slice_us * 1000};
    for (;;) {
        nanosleep(&slice, NULL);
        pthread_mutex_lock(&emu->lock);
        bool quit = emu->quit;
        if (!quit && emu->current && (emu->listener || others_runnable_locked(emu, emu->current)))
            stop_current_locked(emu);
        pthread_mutex_unlock(&emu->lock);
        if (quit)
            return NULL;
    }
}

enum microvmi_status emu_sched_start(struct emu *emu)
{
    emu->slice_us = SLICE_US;
    emu->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (emu->efd < 0)
        return microvmi_fail(emu->vm, MICROVMI_INIT_FAILED, "emu: eventfd: %s", strerror(errno));
    pthread_mutex_init(&emu->lock, NULL);
    pthread_cond_init(&emu->cv_run, NULL);
    pthread_cond_init(&emu->cv_idle, NULL);
    pthread_cond_init(&emu->cv_event, NULL);
    if (pthread_create(&emu->run_thread, NULL, run_main, emu) != 0)
        return microvmi_fail(emu->vm, MICROVMI_INIT_FAILED, "emu: cannot start the run thread");
    if (pthread_create(&emu->tick_thread, NULL, tick_main, emu) != 0) {
        pthread_mutex_lock(&emu->lock);
        emu->quit = true;
        pthread_cond_broadcast(&emu->cv_run);
        pthread_mutex_unlock(&emu->lock);
        pthread_join(emu->run_thread, NULL);
        return microvmi_fail(emu->vm, MICROVMI_INIT_FAILED, "emu: cannot start the ticker");
    }
    emu->threads_started = true;
    return MICROVMI_OK;
}

void emu_sched_stop(struct emu *emu)
{
    if (emu->threads_started) {
        pthread_mutex_lock(&emu->lock);
        emu->quit = true;
        stop_current_locked(emu);
        pthread_cond_broadcast(&emu->cv_run);
        pthread_mutex_unlock(&emu->lock);
        pthread_join(emu->run_thread, NULL);
        pthread_join(emu->tick_thread, NULL);
        emu->threads_started = false;
    }
    if (emu->efd >= 0)
        close(emu->efd);
    emu->efd = -1;
}

void emu_quiesce(struct emu *emu)
{
    pthread_mutex_lock(&emu->lock);
    emu->quiesce++;
    wait_idle_locked(emu, NULL);
    pthread_mutex_unlock(&emu->lock);
}

void emu_unquiesce(struct emu *emu)
{
    pthread_mutex_lock(&emu->lock);
    emu->quiesce--;
    pthread_cond_broadcast(&emu->cv_run);
    pthread_mutex_unlock(&emu->lock);
}

enum microvmi_status emu_pause(struct emu *emu)
{
    pthread_mutex_lock(&emu->lock);
    emu->vm_paused = true;
    wait_idle_locked(emu, NULL);
    pthread_mutex_unlock(&emu->lock);
    return MICROVMI_OK;
}

enum microvmi_status emu_resume(struct emu *emu)
{
    pthread_mutex_lock(&emu->lock);
    emu->vm_paused = false;
    pthread_cond_broadcast(&emu->cv_run);
    pthread_mutex_unlock(&emu->lock);
    return MICROVMI_OK;
}

enum microvmi_status emu_pause_vcpu(struct emu *emu, uint32_t vcpu)
{
    if (vcpu >= emu->nvcpus)
        return microvmi_fail(emu->vm, MICROVMI_INVALID_ARG, "emu: no vCPU %u (the VM has %u)",
                             vcpu, emu->nvcpus);
    pthread_mutex_lock(&emu->lock);
    emu->vcpu[vcpu].paused = true;
    wait_idle_locked(emu, &emu->vcpu[vcpu]);
    pthread_mutex_unlock(&emu->lock);
    return MICROVMI_OK;
}

enum microvmi_status emu_resume_vcpu(struct emu *emu, uint32_t vcpu)
{
    if (vcpu >= emu->nvcpus)
        return microvmi_fail(emu->vm, MICROVMI_INVALID_ARG, "emu: no vCPU %u (the VM has %u)",
                             vcpu, emu->nvcpus);
    pthread_mutex_lock(&emu->lock);
    emu->vcpu[vcpu].paused = false;
    pthread_cond_broadcast(&emu->cv_run);
    pthread_mutex_unlock(&emu->lock);
    return MICROVMI_OK;
}

bool emu_vcpu_stopped(struct emu *emu, struct emu_vcpu *v)
{
    pthread_mutex_lock(&emu->lock);
    bool ok = emu->current != v &&
              (emu->vm_paused || emu->quiesce || v->paused || v->held || v->halted);
    pthread_mutex_unlock(&emu->lock);
    return ok;
}

/* After a reply: wake the run thread unless it will look by itself soon. */
void emu_kick_locked(struct emu *emu)
{
    if (emu->run_idle || mono_ns() >= emu->api_turn_until)
        pthread_cond_broadcast(&emu->cv_run);
}

void emu_post_event_locked(struct emu *emu, struct emu_vcpu *v)
{
    v->held = true;
    v->token = ++emu->next_token;
    v->ev.token = v->token;
    v->ev.vcpu = v->id;
    v->ev.view = v->view;
    v->queued = true;
    emu->queue[emu->qlen++] = v;
    /* A listen() in progress takes it at once: the fd is for pollers. */
    if (!emu->efd_armed && !emu->listener) {
        uint64_t one = 1;
        if (write(emu->efd, &one, sizeof one) == (ssize_t)sizeof one)
            emu->efd_armed = true;
    }
    pthread_cond_broadcast(&emu->cv_event);
}

/* listen() runs the VM itself while it waits (the run thread steps aside):
 * an event then reaches the caller without any thread switch. */
enum microvmi_status emu_listen(struct emu *emu, int timeout_ms, struct microvmi_event *ev)
{
    uint64_t deadline = timeout_ms > 0 ? mono_ns() + (uint64_t)timeout_ms * 1000000ull : 0;
    enum microvmi_status st = MICROVMI_OK;
    pthread_mutex_lock(&emu->lock);
    if (timeout_ms != 0)
        emu->listener = true;
    while (emu->qlen == 0) {
        if (atomic_exchange(&emu->interrupted, false)) {
            st = MICROVMI_INTERRUPTED;
            break;
        }
        uint64_t now = mono_ns();
        if (timeout_ms == 0 || (timeout_ms > 0 && now >= deadline)) {
            st = MICROVMI_TIMEOUT;
            break;
        }
        uint64_t wait_ns = timeout_ms > 0 ? deadline - now : 1000000000ull;
        if (emu->current) {
            /* The run thread is in the VM: it stops at its next block. */
            stop_current_locked(emu);
            struct timespec ts;
            deadline_after_ns(&ts, wait_ns < 1000000 ? wait_ns : 1000000);
            pthread_cond_timedwait(&emu->cv_idle, &emu->lock, &ts);
            continue;
        }
        struct emu_vcpu *v = pick_locked(emu);
        if (!v) {
            struct timespec ts;
            deadline_after_ns(&ts, wait_ns);
            pthread_cond_timedwait(&emu->cv_event, &emu->lock, &ts);
            continue;
        }
        run_slice_locked(emu, v);
    }
    if (st == MICROVMI_OK) {
        struct emu_vcpu *v = emu->queue[0];
        memmove(emu->queue, emu->queue + 1, (emu->qlen - 1) * sizeof emu->queue[0]);
        emu->qlen--;
        v->queued = false;
        *ev = v->ev;
        if (emu->qlen == 0 && emu->efd_armed) {
            uint64_t n;
            if (read(emu->efd, &n, sizeof n) == (ssize_t)sizeof n)
                emu->efd_armed = false;
        } else if (emu->qlen > 0 && !emu->efd_armed) {
            uint64_t one = 1;
            if (write(emu->efd, &one, sizeof one) == (ssize_t)sizeof one)
                emu->efd_armed = true;
        }
        if (emu->listener)
            emu->api_turn_until = mono_ns() + API_TURN_NS;
    }
    emu->listener = false;
    if (emu->run_idle || st != MICROVMI_OK)
        pthread_cond_broadcast(&emu->cv_run);
    pthread_mutex_unlock(&emu->lock);
    return st;
}

enum microvmi_status emu_interrupt(struct emu *emu)
{
    atomic_store(&emu->interrupted, true);
    atomic_store(&emu->stop_asked, true);
    pthread_mutex_lock(&emu->lock);
    pthread_cond_broadcast(&emu->cv_event);
    pthread_mutex_unlock(&emu->lock);
    return MICROVMI_OK;
}
