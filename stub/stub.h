/*
 * microvmi-gdbstub: shared state of one stub process and the functions each
 * part offers the others. Packet handlers live in cmd_*.c (one family per
 * file), mechanisms in swbp.c, hwbp.c, watch.c, step.c, cleanup.c, the event
 * loop in session.c, driver events in events.c.
 */
#ifndef STUB_H
#define STUB_H

#include "cli.h"
#include "microvmi.h"
#include "rsp.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum stub_state {
    STUB_DETACHED, /* no client: the VM runs, events pass through untouched */
    STUB_STOPPED,  /* serving packets; the VM is paused */
    STUB_RUNNING,  /* the client resumed; waiting for an event or 0x03 */
};

/* Why a vCPU has the singlestep intercept on. */
enum stub_step_purpose {
    STEP_NONE,
    STEP_USER,       /* gdb asked for s / vCont;s */
    STEP_OVER_SWBP,  /* a breakpoint hit outside cr3filter: execute the original insn */
    STEP_OVER_HWBP,  /* same for a debug-register breakpoint */
    STEP_WATCH,      /* let a watched access land, then report it */
    STEP_OVER_WATCH, /* let an access next to a watched range land silently */
};

enum stub_step_how { STEP_HOW_NONE, STEP_HOW_MTF, STEP_HOW_NATIVE, STEP_HOW_TEMPBP };

struct stub_vcpu {
    bool held;                 /* ev holds this vCPU until we reply */
    struct microvmi_event ev;
    bool reported;             /* ev is the one gdb was told about */
    bool paused;               /* we called microvmi_pause_vcpu on it */
    bool ss_on;                /* we turned its singlestep intercept on */
    enum stub_step_purpose step;
    enum stub_step_how step_how;
    uint64_t step_over_gpa;    /* STEP_OVER_SWBP: breakpoint to plant again */
    int step_over_hw;          /* STEP_OVER_HWBP: DR slot to enable again */
    uint64_t tempbp[2];        /* STEP_HOW_TEMPBP: temporary breakpoints (gva) */
    int ntempbp;
    uint64_t lifted_gfn[2];    /* pages whose watch permissions are lifted for this step */
    int nlifted;
    bool watch_pending;        /* a watched access is under way: report at the step */
    int watch_type;            /* 2 write, 3 read, 4 access */
    uint64_t watch_addr;       /* gva reported to gdb */
    bool dr_saved;             /* dr_orig holds the guest's own DR0-3/DR7 */
    uint64_t dr_orig[5];
};

struct stub_swbp {
    uint64_t addr;   /* as gdb gave it */
    uint64_t gpa;
    uint8_t orig;
    bool planted;
    bool temp;       /* a step's temporary breakpoint, not gdb's */
};

struct stub_hwbp {
    bool used;
    uint64_t addr;
    bool native;     /* inserted through microvmi_native_breakpoint */
};

struct stub_watch_seg {
    uint64_t gva, gpa, len;
};

struct stub_watch {
    int type;        /* 2 write, 3 read, 4 access (Z numbering) */
    uint64_t addr, len;
    bool native;
    struct stub_watch_seg *segs;
    size_t nsegs;
};

struct stub_page {
    uint64_t gfn;
    enum microvmi_access orig;
    uint32_t r_refs, w_refs;
};

struct stub {
    microvmi_t *vm;
    const struct stub_options *opt;
    uint64_t caps;
    uint32_t nvcpus;
    struct stub_vcpu *vcpus;

    struct rsp_listener *listener;
    struct rsp_conn *conn;
    enum stub_state state;
    bool vm_paused;            /* we called microvmi_pause */
    bool vm_gone;
    bool quit;                 /* leave the main loop */
    bool close_client;         /* drop the client after the current reply */

    uint32_t g_vcpu;           /* Hg: registers and memory */
    uint32_t c_vcpu;           /* Hc: legacy s/c */
    uint32_t last_stop_vcpu;
    bool phys;                 /* monitor phys on */
    bool cr3filter_on;
    uint64_t cr3filter;

    struct stub_swbp *swbps;
    size_t nswbps, capswbps;
    struct stub_hwbp hwbps[4];
    struct stub_watch *watches;
    size_t nwatches, capwatches;
    struct stub_page *pages;
    size_t npages, cappages;
    bool int3_intercept, db_intercept;
    uint64_t *native_bps;      /* Z0 through the driver's native breakpoints */
    size_t nnative_bps, capnative_bps;

    bool isolating;            /* one vCPU runs alone for an internal step */
    uint32_t iso_vcpu;

    struct rsp_buf reply;      /* payload of the reply being built */
    uint8_t *membuf;           /* scratch for m */
    size_t membuf_cap;
    int verbose;
    uint64_t stops;            /* stop replies sent (stats for -v) */
};

/* ------------------------------------------------------------ logging */
void stub_log(const struct stub *s, int level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ------------------------------------------------------------ dispatch */
enum stub_hr {
    STUB_HR_REPLY, /* send s->reply */
    STUB_HR_NONE,  /* no reply now (resumed; a stop reply follows later) */
};
typedef enum stub_hr (*stub_handler_fn)(struct stub *s, const char *args, size_t len);

void stub_dispatch(struct stub *s, const char *pkt, size_t len);
void stub_reply_str(struct stub *s, const char *str);
void stub_reply_printf(struct stub *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void stub_reply_error(struct stub *s, int code);
void stub_send_packet_str(struct stub *s, const char *payload);

/* Handlers, by family. */
enum stub_hr stub_cmd_g(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_G(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_p(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_P(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_m(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_M(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_X(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_Z(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_z(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_c(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_s(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_C(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_S(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_vcont_query(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_vcont(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_D(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_k(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_question(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_qSupported(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_noack(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_H(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_T(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_qC(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_qfThreadInfo(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_qsThreadInfo(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_qThreadExtraInfo(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_qAttached(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_qXfer(struct stub *s, const char *a, size_t n);
enum stub_hr stub_cmd_qRcmd(struct stub *s, const char *a, size_t n);

/* ------------------------------------------------------------ vCPUs */
/* gdb thread id (vCPU n is thread n+1) to vCPU index; false if none. */
bool stub_tid_to_vcpu(const struct stub *s, int64_t tid, uint32_t *vcpu);
/* The address space gdb's addresses refer to (current thread, or phys). */
enum microvmi_status stub_address_space(struct stub *s, uint32_t vcpu,
                                        struct microvmi_address_space *as);
enum microvmi_status stub_gva_to_gpa(struct stub *s, uint32_t vcpu, uint64_t gva, uint64_t *gpa);

/* ------------------------------------------------------------ mechanisms */
/* swbp.c */
int stub_swbp_insert(struct stub *s, uint64_t addr, bool temp);  /* 0 or errno-ish code */
int stub_swbp_remove(struct stub *s, uint64_t addr, bool temp);
struct stub_swbp *stub_swbp_find_gpa(struct stub *s, uint64_t gpa);
void stub_swbp_unplant(struct stub *s, struct stub_swbp *bp);
void stub_swbp_plant(struct stub *s, struct stub_swbp *bp);
/* gdb wrote [addr, addr+len) (its addressing): keep planted 0xCC on top. */
void stub_swbp_after_write(struct stub *s, uint64_t addr, size_t len);
void stub_swbp_remove_all(struct stub *s);
int stub_native_bp(struct stub *s, uint64_t addr, bool insert);
/* hwbp.c */
int stub_hwbp_insert(struct stub *s, uint64_t addr);
int stub_hwbp_remove(struct stub *s, uint64_t addr);
int stub_hwbp_slot_at(struct stub *s, uint64_t rip);
void stub_hwbp_enable_on(struct stub *s, uint32_t vcpu, int slot, bool enable);
void stub_hwbp_remove_all(struct stub *s);
/* watch.c */
int stub_watch_insert(struct stub *s, int type, uint64_t addr, uint64_t len);
int stub_watch_remove(struct stub *s, int type, uint64_t addr, uint64_t len);
/* Does an access hit a watchpoint? Fills the type and the gva to report. */
bool stub_watch_match(struct stub *s, uint64_t gpa, uint64_t size, enum microvmi_access access,
                      int *type, uint64_t *report_addr);
void stub_watch_remove_all(struct stub *s);
/* Give one of our pages its original permissions back for a moment (an
 * access steps through alone), then take them away again. */
bool stub_watch_lift(struct stub *s, uint64_t gfn);
void stub_watch_protect(struct stub *s, uint64_t gfn);
/* step.c */
enum stub_resume_action { RESUME_STAY, RESUME_RUN, RESUME_STEP };
bool stub_resume(struct stub *s, const enum stub_resume_action *acts);
bool stub_step_begin(struct stub *s, uint32_t vcpu, enum stub_step_purpose why);
void stub_step_end(struct stub *s, uint32_t vcpu);
void stub_isolate(struct stub *s, uint32_t vcpu);
void stub_unisolate(struct stub *s);
/* The reply a held event gets when its vCPU may go on (cancel-style). */
void stub_release_held(struct stub *s, uint32_t vcpu);
void stub_unpause_vcpus(struct stub *s);
/* stepdecode.c: step by temporary breakpoints on the possible next
 * instructions (capstone), for drivers with neither MTF nor a native step */
bool stub_tempbp_step(struct stub *s, uint32_t vcpu);
void stub_tempbp_clear(struct stub *s, uint32_t vcpu);
/* events.c */
/* Guest-physical address of the instruction an event stopped at. */
uint64_t stub_event_gpa(struct stub *s, const struct microvmi_event *ev);
void stub_on_event(struct stub *s, const struct microvmi_event *ev);
void stub_drain_events(struct stub *s);
/* Pause the VM, collect queued events and tell gdb why we stopped. */
void stub_stop_and_report(struct stub *s, uint32_t vcpu, int sig, const char *why);
void stub_pause_vm(struct stub *s);
/* cleanup.c */
void stub_cleanup(struct stub *s);

/* session.c */
int stub_serve(struct stub *s);

/* ------------------------------------------------------------ target.xml */
const char *stub_xml_find(const char *annex, size_t *len);

/* Room for one more item in a table of count items with capacity *cap: returns
 * the table to use from now on, or NULL when out of memory (the old table and
 * *cap are then unchanged). */
void *stub_reserve(void *items, size_t *cap, size_t count, size_t item_size, size_t initial);

#endif
