/* ? c s C S vCont D k: resuming, stepping, leaving. A resume is never
 * answered at once: the stop reply comes when an event arrives (events.c). */
#include "args.h"
#include "stub.h"

#include <stdlib.h>

enum stub_hr stub_cmd_question(struct stub *s, const char *a, size_t n)
{
    (void)a; (void)n;
    stub_reply_printf(s, "T05thread:%x;", s->last_stop_vcpu + 1);
    return STUB_HR_REPLY;
}

static bool can_step(const struct stub *s)
{
    (void)s;
    return true; /* MTF, native, or decoded temporary breakpoints */
}

static enum stub_hr resume_all(struct stub *s, enum stub_resume_action what, uint32_t vcpu)
{
    enum stub_resume_action *acts = calloc(s->nvcpus, sizeof *acts);
    if (!acts) {
        stub_reply_error(s, 12);
        return STUB_HR_REPLY;
    }
    for (uint32_t v = 0; v < s->nvcpus; v++)
        acts[v] = what == RESUME_STEP ? (v == vcpu ? RESUME_STEP : RESUME_STAY) : RESUME_RUN;
    bool ok = stub_resume(s, acts);
    free(acts);
    if (!ok) {
        stub_reply_error(s, 5);
        return STUB_HR_REPLY;
    }
    return STUB_HR_NONE;
}

/* Legacy c/s/C/S take an optional resume address, which we refuse (gdb
 * never sends one to a stub that supports vCont). */
static bool legacy_args_ok(const char *a, size_t n, bool has_sig)
{
    if (has_sig) {
        struct stub_cursor c = { a, a + n };
        uint64_t sig;
        return stub_hex_u64(&c, &sig) && c.p == c.end;
    }
    return n == 0;
}

enum stub_hr stub_cmd_c(struct stub *s, const char *a, size_t n)
{
    if (!legacy_args_ok(a, n, false)) {
        stub_reply_error(s, 22);
        return STUB_HR_REPLY;
    }
    return resume_all(s, RESUME_RUN, 0);
}

enum stub_hr stub_cmd_C(struct stub *s, const char *a, size_t n)
{
    if (!legacy_args_ok(a, n, true)) {
        stub_reply_error(s, 22);
        return STUB_HR_REPLY;
    }
    return resume_all(s, RESUME_RUN, 0); /* a VM takes no signals: dropped */
}

enum stub_hr stub_cmd_s(struct stub *s, const char *a, size_t n)
{
    if (!legacy_args_ok(a, n, false)) {
        stub_reply_error(s, 22);
        return STUB_HR_REPLY;
    }
    return resume_all(s, RESUME_STEP, s->c_vcpu);
}

enum stub_hr stub_cmd_S(struct stub *s, const char *a, size_t n)
{
    if (!legacy_args_ok(a, n, true)) {
        stub_reply_error(s, 22);
        return STUB_HR_REPLY;
    }
    return resume_all(s, RESUME_STEP, s->c_vcpu);
}

enum stub_hr stub_cmd_vcont_query(struct stub *s, const char *a, size_t n)
{
    (void)a; (void)n;
    stub_reply_str(s, can_step(s) ? "vCont;c;C;s;S" : "vCont;c;C");
    return STUB_HR_REPLY;
}

enum stub_hr stub_cmd_vcont(struct stub *s, const char *a, size_t n)
{
    /* a starts after "vCont;": put the ';' back for the parser */
    struct stub_vcont_action acts[64];
    int count = stub_parse_vcont(a - 1, n + 1, acts, 64);
    if (count < 0) {
        stub_reply_error(s, 22);
        return STUB_HR_REPLY;
    }
    enum stub_resume_action *per = calloc(s->nvcpus, sizeof *per);
    bool *set = calloc(s->nvcpus, sizeof *set);
    if (!per || !set) {
        free(per);
        free(set);
        stub_reply_error(s, 12);
        return STUB_HR_REPLY;
    }
    /* The leftmost action that matches a thread applies to it. */
    bool bad = false;
    for (int i = 0; i < count; i++) {
        enum stub_resume_action r = acts[i].op == 's' ? RESUME_STEP
                                  : acts[i].op == 'c' ? RESUME_RUN : RESUME_STAY;
        if (acts[i].tid == STUB_TID_ALL || acts[i].tid == STUB_TID_ANY) {
            for (uint32_t v = 0; v < s->nvcpus; v++)
                if (!set[v]) {
                    per[v] = r;
                    set[v] = true;
                }
        } else {
            uint32_t v;
            if (!stub_tid_to_vcpu(s, acts[i].tid, &v)) {
                bad = true;
                break;
            }
            if (!set[v]) {
                per[v] = r;
                set[v] = true;
            }
        }
    }
    bool ok = !bad && stub_resume(s, per);
    free(per);
    free(set);
    if (!ok) {
        stub_reply_error(s, bad ? 22 : 5);
        return STUB_HR_REPLY;
    }
    return STUB_HR_NONE;
}

enum stub_hr stub_cmd_D(struct stub *s, const char *a, size_t n)
{
    (void)a; (void)n;
    stub_cleanup(s);
    s->close_client = true;
    stub_reply_str(s, "OK");
    return STUB_HR_REPLY;
}

enum stub_hr stub_cmd_k(struct stub *s, const char *a, size_t n)
{
    (void)a; (void)n;
    /* We never kill a VM we did not start for gdb: kill means "leave it as
     * it was", like detach. gdb does not wait for a reply to k. */
    stub_cleanup(s);
    s->close_client = true;
    stub_reply_str(s, "OK");
    return STUB_HR_REPLY;
}
