/* Leave the guest as we found it: on detach, kill, client disconnect (while
 * stopped, running or mid-step), VM death and SIGINT/SIGTERM of the stub.
 * Order matters: lift every 0xCC and permission first, then answer the held
 * events (their retry then runs the guest's own instruction), then resume. */
#include "stub.h"

void stub_cleanup(struct stub *s)
{
    if (s->vm_gone)
        return;
    stub_pause_vm(s);
    for (uint32_t v = 0; v < s->nvcpus; v++)
        if (s->vcpus[v].step != STEP_NONE || s->vcpus[v].ss_on)
            stub_step_end(s, v);
    s->isolating = false;
    stub_swbp_remove_all(s);
    stub_hwbp_remove_all(s);
    stub_watch_remove_all(s);
    /* Events queued before the pause, then the held ones. */
    enum stub_state was = s->state;
    s->state = STUB_DETACHED;
    stub_drain_events(s);
    for (uint32_t v = 0; v < s->nvcpus; v++) {
        s->vcpus[v].watch_pending = false;
        stub_release_held(s, v);
    }
    stub_unpause_vcpus(s);
    s->phys = false;
    s->cr3filter_on = false;
    if (s->vm_paused) {
        if (microvmi_resume(s->vm) != MICROVMI_OK)
            stub_log(s, 0, "resume after clean-up: %s", microvmi_last_error(s->vm));
        s->vm_paused = false;
    }
    stub_log(s, 1, "clean-up done (was %s): breakpoints, watchpoints, intercepts removed; VM "
             "resumed", was == STUB_RUNNING ? "running" : was == STUB_STOPPED ? "stopped" : "detached");
}
