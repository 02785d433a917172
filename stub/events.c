/* Driver events: which ones gdb hears about (a stop reply, all-stop: the VM
 * is paused first), which ones pass silently (the guest's own int3s,
 * accesses next to a watched range, hits outside cr3filter), and which ones
 * finish an internal step. */
#include "stub.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

uint64_t stub_event_gpa(struct stub *s, const struct microvmi_event *ev)
{
    if (ev->kind == MICROVMI_EVENT_INT3 && ev->u.int3.gpa)
        return ev->u.int3.gpa;
    uint64_t gpa = ev->rip;
    stub_gva_to_gpa(s, ev->vcpu, ev->rip, &gpa);
    return gpa;
}

static bool cr3_passes(struct stub *s, const struct microvmi_event *ev)
{
    if (!s->cr3filter_on)
        return true;
    uint64_t cr3 = ev->cr3;
    if (!cr3) {
        struct microvmi_x86_regs r;
        if (microvmi_read_registers(s->vm, ev->vcpu, &r) == MICROVMI_OK)
            cr3 = r.cr3;
    }
    const uint64_t mask = ~0xfffull; /* ignore PCID and flag bits */
    return (cr3 & mask) == (s->cr3filter & mask);
}

static void reply(struct stub *s, const struct microvmi_event *ev, uint32_t flags)
{
    struct microvmi_reply r = { .flags = flags };
    if (microvmi_reply(s->vm, ev, &r) != MICROVMI_OK)
        stub_log(s, 1, "reply to %s on vCPU %u: %s", microvmi_event_kind_str(ev->kind), ev->vcpu,
                 microvmi_last_error(s->vm));
}

static void hold(struct stub *s, const struct microvmi_event *ev)
{
    struct stub_vcpu *v = &s->vcpus[ev->vcpu];
    if (v->held) /* cannot happen: a held vCPU does not run */
        stub_log(s, 0, "vCPU %u: second event while held", ev->vcpu);
    v->held = true;
    v->ev = *ev;
}

/* What the guest would have seen without us. */
static void pass_through(struct stub *s, const struct microvmi_event *ev)
{
    uint32_t flags = MICROVMI_RESPONSE_CONTINUE;
    switch (ev->kind) {
    case MICROVMI_EVENT_INT3: {
        uint8_t byte = 0;
        uint64_t gpa = stub_event_gpa(s, ev);
        /* An int3 that is still in memory is the guest's own; one that is
         * gone was ours, removed while the event was queued: re-execute. */
        if (microvmi_read_physical(s->vm, gpa, &byte, 1, NULL) == MICROVMI_OK && byte == 0xcc)
            flags = MICROVMI_RESPONSE_REINJECT;
        break;
    }
    case MICROVMI_EVENT_EXCEPTION:
        flags = MICROVMI_RESPONSE_REINJECT;
        break;
    case MICROVMI_EVENT_MEMORY:
        /* Only our permissions raise these; where we pass one through the
         * vCPU cannot run now (paused) or our permissions are gone
         * (detached): the retry lands or is handled when it runs. */
        flags = MICROVMI_RESPONSE_CONTINUE;
        break;
    default:
        break;
    }
    reply(s, ev, flags);
}

static bool is_our_hit(struct stub *s, const struct microvmi_event *ev)
{
    switch (ev->kind) {
    case MICROVMI_EVENT_INT3:
        return stub_swbp_find_gpa(s, stub_event_gpa(s, ev)) != NULL;
    case MICROVMI_EVENT_EXCEPTION:
        return ev->u.exception.vector == 1 && stub_hwbp_slot_at(s, ev->rip) >= 0;
    case MICROVMI_EVENT_MEMORY: {
        int type;
        uint64_t addr;
        return stub_watch_match(s, ev->u.memory.gpa, ev->u.memory.size, ev->u.memory.access,
                                &type, &addr);
    }
    case MICROVMI_EVENT_SINGLESTEP:
    case MICROVMI_EVENT_BREAKPOINT:
    case MICROVMI_EVENT_WATCHPOINT:
    case MICROVMI_EVENT_PAUSED:
        return true;
    default:
        return false;
    }
}

void stub_pause_vm(struct stub *s)
{
    if (!(s->caps & MICROVMI_CAP_PAUSE_RESUME))
        return; /* e.g. a memory dump: nothing runs anyway */
    if (!s->vm_paused) {
        if (microvmi_pause(s->vm) == MICROVMI_OK)
            s->vm_paused = true;
        else
            stub_log(s, 0, "pause: %s", microvmi_last_error(s->vm));
    }
}

/* After a pause: events already queued hold their vCPUs. Those that fired
 * before their instruction took effect (int3, #DB, memory) are answered
 * CONTINUE at once: the VM is paused, so they retry on the next resume and
 * fire again if gdb still cares. Others pass through; a finished step is
 * kept. */
void stub_drain_events(struct stub *s)
{
    struct microvmi_event ev;
    for (int guard = 0; guard < 4096; guard++) {
        enum microvmi_status st = microvmi_listen(s->vm, 0, &ev);
        if (st == MICROVMI_VM_GONE) {
            s->vm_gone = true;
            return;
        }
        if (st != MICROVMI_OK)
            return;
        if (ev.vcpu >= s->nvcpus)
            continue;
        stub_log(s, 2, "queued event %s on vCPU %u at %#" PRIx64, microvmi_event_kind_str(ev.kind),
                 ev.vcpu, ev.rip);
        if (ev.kind == MICROVMI_EVENT_SHUTDOWN) {
            s->vm_gone = true;
            return;
        }
        if (!is_our_hit(s, &ev) || s->state == STUB_DETACHED)
            pass_through(s, &ev);
        else if (ev.kind == MICROVMI_EVENT_INT3 || ev.kind == MICROVMI_EVENT_EXCEPTION ||
                 ev.kind == MICROVMI_EVENT_MEMORY)
            reply(s, &ev, MICROVMI_RESPONSE_CONTINUE); /* retried (and seen) after resume */
        else
            hold(s, &ev);
    }
}

void stub_stop_and_report(struct stub *s, uint32_t vcpu, int sig, const char *why)
{
    stub_pause_vm(s);
    stub_drain_events(s);
    for (uint32_t u = 0; u < s->nvcpus; u++) {
        s->vcpus[u].watch_pending = false;
        if (s->vcpus[u].step != STEP_NONE || s->vcpus[u].ss_on)
            stub_step_end(s, u);
    }
    s->isolating = false;
    stub_unpause_vcpus(s); /* the VM-wide pause keeps them still */
    s->state = STUB_STOPPED;
    s->g_vcpu = s->c_vcpu = s->last_stop_vcpu = vcpu;
    s->vcpus[vcpu].reported = s->vcpus[vcpu].held;
    s->stops++;
    char buf[128];
    snprintf(buf, sizeof buf, "T%02xthread:%x;%s", sig, vcpu + 1, why ? why : "");
    stub_send_packet_str(s, buf);
}

static void report_watch(struct stub *s, uint32_t vcpu)
{
    struct stub_vcpu *v = &s->vcpus[vcpu];
    const char *kind = v->watch_type == 2 ? "watch" : v->watch_type == 3 ? "rwatch" : "awatch";
    char why[64];
    snprintf(why, sizeof why, "%s:%" PRIx64 ";", kind, v->watch_addr);
    stub_stop_and_report(s, vcpu, 5, why);
}

/* An internal step is done: put back what we lifted and let everyone go. */
static void finish_internal_step(struct stub *s, uint32_t vcpu)
{
    stub_step_end(s, vcpu);       /* plants the breakpoint / DR slot again */
    stub_release_held(s, vcpu);
    stub_unisolate(s);
    for (uint32_t u = 0; u < s->nvcpus; u++)
        if (u != vcpu)
            stub_release_held(s, u);
}

static void step_done(struct stub *s, const struct microvmi_event *ev)
{
    uint32_t vcpu = ev->vcpu;
    struct stub_vcpu *v = &s->vcpus[vcpu];
    hold(s, ev);
    switch (v->step) {
    case STEP_USER:
        if (v->watch_pending)
            report_watch(s, vcpu);
        else
            stub_stop_and_report(s, vcpu, 5, NULL);
        break;
    case STEP_WATCH:
        report_watch(s, vcpu);
        break;
    case STEP_OVER_WATCH:
        if (v->watch_pending) { /* a page-crossing access hit on its second page */
            report_watch(s, vcpu);
            break;
        }
        finish_internal_step(s, vcpu);
        break;
    case STEP_OVER_SWBP:
    case STEP_OVER_HWBP:
        finish_internal_step(s, vcpu);
        break;
    case STEP_NONE:
        stub_step_end(s, vcpu);
        stub_release_held(s, vcpu);
        break;
    }
}

/* A hit gdb must not see (outside cr3filter): run the original instruction
 * alone, with the breakpoint lifted, then put it back. */
static void step_over_silently(struct stub *s, const struct microvmi_event *ev,
                               enum stub_step_purpose why)
{
    uint32_t vcpu = ev->vcpu;
    struct stub_vcpu *v = &s->vcpus[vcpu];
    stub_isolate(s, vcpu);
    if (why == STEP_OVER_SWBP) {
        struct stub_swbp *bp = stub_swbp_find_gpa(s, stub_event_gpa(s, ev));
        v->step_over_gpa = bp ? bp->gpa : 0;
        if (bp)
            stub_swbp_unplant(s, bp);
    } else {
        v->step_over_hw = stub_hwbp_slot_at(s, ev->rip);
        stub_hwbp_enable_on(s, vcpu, v->step_over_hw, false);
    }
    if (!stub_step_begin(s, vcpu, why)) {
        stub_step_end(s, vcpu);
        stub_unisolate(s);
        reply(s, ev, MICROVMI_RESPONSE_CONTINUE);
    } else {
        hold(s, ev);
        stub_release_held(s, vcpu);
    }
    if (s->vm_paused && microvmi_resume(s->vm) == MICROVMI_OK)
        s->vm_paused = false;
}

/* --watch-mode lift: let one access to a page we protect land by lifting
 * the page's permissions and running that vCPU alone for one instruction,
 * then protecting the page again (stub_step_end). No other vCPU runs
 * meanwhile, so none slips through. For drivers without EMULATE replies:
 * only permissions and a singlestep are needed (slower: every access next
 * to a watched range pauses the VM). */
static bool lift_and_step(struct stub *s, const struct microvmi_event *ev,
                          enum stub_step_purpose why)
{
    struct stub_vcpu *v = &s->vcpus[ev->vcpu];
    uint64_t gfn = ev->u.memory.gpa / 4096u;
    if (!(s->caps & MICROVMI_CAP_EVENT_SINGLESTEP) || v->nlifted == 2)
        return false;
    bool stepping = v->step == STEP_USER && v->ss_on;
    stub_isolate(s, ev->vcpu);
    if (!stub_watch_lift(s, gfn)) {
        if (!stepping)
            stub_unisolate(s);
        if (s->vm_paused && microvmi_resume(s->vm) == MICROVMI_OK)
            s->vm_paused = false;
        return false;
    }
    v->lifted_gfn[v->nlifted++] = gfn;
    if (!stepping && v->step == STEP_NONE && !stub_step_begin(s, ev->vcpu, why)) {
        stub_watch_protect(s, gfn);
        v->nlifted--;
        stub_unisolate(s);
        if (s->vm_paused && microvmi_resume(s->vm) == MICROVMI_OK)
            s->vm_paused = false;
        return false;
    }
    /* A page-crossing access may fault on its second page during the step:
     * v->step is already set then, and that page is lifted too. */
    reply(s, ev, MICROVMI_RESPONSE_CONTINUE);
    if (s->vm_paused && microvmi_resume(s->vm) == MICROVMI_OK)
        s->vm_paused = false;
    return true;
}

static void on_memory(struct stub *s, const struct microvmi_event *ev)
{
    int type;
    uint64_t addr;
    struct stub_vcpu *v = &s->vcpus[ev->vcpu];
    bool hit = stub_watch_match(s, ev->u.memory.gpa, ev->u.memory.size, ev->u.memory.access,
                                &type, &addr) && cr3_passes(s, ev);
    if (hit) {
        v->watch_pending = true;
        v->watch_type = type;
        v->watch_addr = addr;
    }
    if (s->opt->watch_lift && lift_and_step(s, ev, hit ? STEP_WATCH : STEP_OVER_WATCH))
        return;
    if (!hit) {
        /* The driver performs this one access despite the permissions;
         * nobody else is held up. */
        reply(s, ev, MICROVMI_RESPONSE_EMULATE);
        return;
    }
    if (v->step == STEP_USER && v->ss_on) {
        /* already stepping: the access lands, the step event reports it */
        reply(s, ev, MICROVMI_RESPONSE_EMULATE);
        return;
    }
    if (!(s->caps & MICROVMI_CAP_EVENT_SINGLESTEP)) {
        /* No way to stop right after the access: report it before, and let
         * it land when gdb resumes (stub_release_held). */
        hold(s, ev);
        report_watch(s, ev->vcpu);
        return;
    }
    /* Let the access land (alone), stop right after it: gdb then shows the
     * old and the new value. */
    stub_isolate(s, ev->vcpu);
    v->step = STEP_WATCH;
    v->step_how = STEP_HOW_MTF;
    v->ss_on = true;
    reply(s, ev, MICROVMI_RESPONSE_EMULATE | MICROVMI_RESPONSE_TOGGLE_SINGLESTEP);
    if (s->vm_paused && microvmi_resume(s->vm) == MICROVMI_OK)
        s->vm_paused = false;
}

void stub_on_event(struct stub *s, const struct microvmi_event *ev)
{
    if (ev->kind == MICROVMI_EVENT_SHUTDOWN) {
        s->vm_gone = true;
        if (s->conn && s->state == STUB_RUNNING) {
            char buf[16];
            if (ev->u.shutdown.crashed)
                snprintf(buf, sizeof buf, "X%02x", 9);
            else
                snprintf(buf, sizeof buf, "W%02x", ev->u.shutdown.exit_code & 0xff);
            stub_send_packet_str(s, buf);
        }
        return;
    }
    if (ev->vcpu >= s->nvcpus)
        return;
    stub_log(s, 2, "event %s on vCPU %u at %#" PRIx64, microvmi_event_kind_str(ev->kind), ev->vcpu,
             ev->rip);
    if (s->state != STUB_RUNNING) {
        /* No client, or stopped (queued before the pause): */
        if (s->state == STUB_STOPPED && is_our_hit(s, ev))
            hold(s, ev);
        else
            pass_through(s, ev);
        return;
    }
    struct stub_vcpu *v = &s->vcpus[ev->vcpu];
    if (s->isolating && ev->vcpu != s->iso_vcpu) {
        /* queued before the isolation began: retried after it */
        if (is_our_hit(s, ev))
            hold(s, ev);
        else
            pass_through(s, ev);
        return;
    }
    switch (ev->kind) {
    case MICROVMI_EVENT_INT3: {
        struct stub_swbp *bp = stub_swbp_find_gpa(s, stub_event_gpa(s, ev));
        if (!bp) {
            pass_through(s, ev);
        } else if (bp->temp && v->step_how == STEP_HOW_TEMPBP && v->step != STEP_NONE) {
            step_done(s, ev); /* a temporary breakpoint: the step finished */
        } else if (bp->temp || !cr3_passes(s, ev)) {
            step_over_silently(s, ev, STEP_OVER_SWBP);
        } else {
            hold(s, ev);
            stub_stop_and_report(s, ev->vcpu, 5, "swbreak:;");
        }
        break;
    }
    case MICROVMI_EVENT_EXCEPTION:
        if (ev->u.exception.vector == 1 && stub_hwbp_slot_at(s, ev->rip) >= 0) {
            if (!cr3_passes(s, ev)) {
                step_over_silently(s, ev, STEP_OVER_HWBP);
            } else {
                hold(s, ev);
                stub_stop_and_report(s, ev->vcpu, 5, "hwbreak:;");
            }
        } else {
            pass_through(s, ev);
        }
        break;
    case MICROVMI_EVENT_MEMORY:
        on_memory(s, ev);
        break;
    case MICROVMI_EVENT_SINGLESTEP:
        step_done(s, ev);
        break;
    case MICROVMI_EVENT_BREAKPOINT:
        hold(s, ev);
        stub_stop_and_report(s, ev->vcpu, 5,
                             stub_hwbp_slot_at(s, ev->u.breakpoint.address) >= 0 ? "hwbreak:;"
                                                                                : "swbreak:;");
        break;
    case MICROVMI_EVENT_WATCHPOINT: {
        hold(s, ev);
        enum microvmi_access a = ev->u.watchpoint.access;
        v->watch_type = a == MICROVMI_ACCESS_W ? 2 : a == MICROVMI_ACCESS_R ? 3 : 4;
        v->watch_addr = ev->u.watchpoint.address;
        report_watch(s, ev->vcpu);
        break;
    }
    case MICROVMI_EVENT_PAUSED:
        hold(s, ev);
        stub_stop_and_report(s, ev->vcpu, 5, NULL);
        break;
    default:
        pass_through(s, ev);
        break;
    }
}
