/* Resuming and stepping. All-stop: while gdb looks at a stopped target the
 * whole VM is paused (microvmi_pause). A resume replies to the held events of
 * the vCPUs that may go on and resumes the VM. A step runs the stepping vCPU
 * alone: the others get microvmi_pause_vcpu until the step's event, so none
 * of them can run past a breakpoint gdb removed to step over it.
 * Step mechanism per vCPU: the MTF singlestep intercept, else the driver's
 * native step, else temporary breakpoints (stepdecode.c). */
#include "stub.h"

#include <string.h>

void stub_release_held(struct stub *s, uint32_t vcpu)
{
    struct stub_vcpu *v = &s->vcpus[vcpu];
    if (!v->held)
        return;
    struct microvmi_reply reply = { .flags = MICROVMI_RESPONSE_CONTINUE };
    /* Every event we hold fired before its instruction took effect (int3 at
     * rip, #DB before the instruction, memory before the access), so
     * CONTINUE retries it: if the breakpoint or watch still exists it fires
     * again, if gdb removed it the guest just goes on. The guest's own int3
     * is reinjected. */
    uint64_t gpa = v->ev.kind == MICROVMI_EVENT_INT3 ? stub_event_gpa(s, &v->ev) : 0;
    if (v->ev.kind == MICROVMI_EVENT_INT3 && !stub_swbp_find_gpa(s, gpa)) {
        uint8_t byte = 0;
        if (microvmi_read_physical(s->vm, gpa, &byte, 1, NULL) == MICROVMI_OK &&
            byte == 0xcc)
            reply.flags = MICROVMI_RESPONSE_REINJECT;
    }
    /* A watched access reported before it landed (no singlestep to stop
     * after it): gdb thinks it happened, so let it happen. */
    if (v->ev.kind == MICROVMI_EVENT_MEMORY && v->reported)
        reply.flags = MICROVMI_RESPONSE_EMULATE;
    v->held = false;
    v->reported = false;
    if (microvmi_reply(s->vm, &v->ev, &reply) != MICROVMI_OK)
        stub_log(s, 1, "reply vCPU %u: %s", vcpu, microvmi_last_error(s->vm));
}

static void set_singlestep(struct stub *s, uint32_t vcpu, bool on)
{
    struct microvmi_intercept what = { MICROVMI_EVENT_SINGLESTEP, MICROVMI_ANY };
    if (microvmi_toggle_intercept(s->vm, vcpu, &what, on) != MICROVMI_OK && on)
        stub_log(s, 0, "singlestep vCPU %u: %s", vcpu, microvmi_last_error(s->vm));
    s->vcpus[vcpu].ss_on = on;
}

bool stub_step_begin(struct stub *s, uint32_t vcpu, enum stub_step_purpose why)
{
    struct stub_vcpu *v = &s->vcpus[vcpu];
    v->step = why;
    if (s->caps & MICROVMI_CAP_EVENT_SINGLESTEP) {
        set_singlestep(s, vcpu, true);
        v->step_how = STEP_HOW_MTF;
        return v->ss_on;
    }
    if (s->caps & MICROVMI_CAP_NATIVE_SINGLESTEP) {
        v->step_how = STEP_HOW_NATIVE;
        return true; /* microvmi_native_step when the vCPU is released */
    }
    v->step_how = STEP_HOW_TEMPBP;
    return stub_tempbp_step(s, vcpu);
}

void stub_step_end(struct stub *s, uint32_t vcpu)
{
    struct stub_vcpu *v = &s->vcpus[vcpu];
    if (v->ss_on)
        set_singlestep(s, vcpu, false);
    if (v->step_how == STEP_HOW_TEMPBP)
        stub_tempbp_clear(s, vcpu);
    if (v->step == STEP_OVER_SWBP) {
        struct stub_swbp *bp = stub_swbp_find_gpa(s, v->step_over_gpa);
        if (bp)
            stub_swbp_plant(s, bp);
    } else if (v->step == STEP_OVER_HWBP) {
        stub_hwbp_enable_on(s, vcpu, v->step_over_hw, true);
    }
    for (int i = 0; i < v->nlifted; i++)
        stub_watch_protect(s, v->lifted_gfn[i]);
    v->nlifted = 0;
    v->step = STEP_NONE;
    v->step_how = STEP_HOW_NONE;
}

void stub_unpause_vcpus(struct stub *s)
{
    for (uint32_t u = 0; u < s->nvcpus; u++) {
        if (s->vcpus[u].paused) {
            microvmi_resume_vcpu(s->vm, u);
            s->vcpus[u].paused = false;
        }
    }
}

static void pause_others(struct stub *s, const bool *runs)
{
    for (uint32_t u = 0; u < s->nvcpus; u++) {
        if (!runs[u] && !s->vcpus[u].paused) {
            if (microvmi_pause_vcpu(s->vm, u) == MICROVMI_OK)
                s->vcpus[u].paused = true;
        }
    }
}

static void release_and_go(struct stub *s, uint32_t vcpu)
{
    struct stub_vcpu *v = &s->vcpus[vcpu];
    stub_release_held(s, vcpu);
    if (v->step_how == STEP_HOW_NATIVE && v->step != STEP_NONE)
        microvmi_native_step(s->vm, vcpu);
}

bool stub_resume(struct stub *s, const enum stub_resume_action *acts)
{
    bool any_step = false;
    for (uint32_t v = 0; v < s->nvcpus; v++)
        any_step |= acts[v] == RESUME_STEP;
    bool runs[s->nvcpus ? s->nvcpus : 1];
    for (uint32_t v = 0; v < s->nvcpus; v++) {
        /* While one vCPU steps, the others stay put (as QEMU does). */
        runs[v] = any_step ? acts[v] == RESUME_STEP : acts[v] != RESUME_STAY;
    }
    for (uint32_t v = 0; v < s->nvcpus; v++)
        if (acts[v] == RESUME_STEP && !stub_step_begin(s, v, STEP_USER))
            return false;
    pause_others(s, runs);
    for (uint32_t v = 0; v < s->nvcpus; v++)
        if (runs[v])
            release_and_go(s, v);
    s->state = STUB_RUNNING;
    if (s->vm_paused) {
        if (microvmi_resume(s->vm) != MICROVMI_OK)
            stub_log(s, 0, "resume: %s", microvmi_last_error(s->vm));
        s->vm_paused = false;
    }
    return true;
}

void stub_isolate(struct stub *s, uint32_t vcpu)
{
    /* Pause the whole VM first so no other vCPU moves while we set it up. */
    if (!s->vm_paused && microvmi_pause(s->vm) == MICROVMI_OK)
        s->vm_paused = true;
    bool runs[s->nvcpus ? s->nvcpus : 1];
    for (uint32_t u = 0; u < s->nvcpus; u++)
        runs[u] = u == vcpu;
    pause_others(s, runs);
    s->isolating = true;
    s->iso_vcpu = vcpu;
}

void stub_unisolate(struct stub *s)
{
    s->isolating = false;
    stub_unpause_vcpus(s);
}
