/*
 * The emu driver: an embedded x86-64 machine on Unicorn. One Unicorn engine
 * per vCPU over one shared host mapping of guest RAM, run round-robin by one
 * thread (so guest `lock` instructions stay atomic), with the whole VMI event
 * model built from Unicorn hooks. Internal to drivers/emu.
 *
 * Threads: the caller's thread (the API) and the run thread. An engine is
 * only touched by the run thread while it runs, and by the API thread only
 * while it is not running and cannot be started (its vCPU is held, paused,
 * or the machine is quiesced: see emu_quiesce()).
 */
#ifndef MICROVMI_EMU_H
#define MICROVMI_EMU_H

#include "driver.h"

#include <capstone/capstone.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unicorn/unicorn.h>

#define EMU_MAX_VCPUS 8          /* the bundled guest's GUEST_MAX_CPUS */
#define EMU_MAX_VIEWS 16
#define EMU_FILTER_MAX 32
#define EMU_NO_ADDR UINT64_MAX
#define EMU_RFLAGS_TF 0x100ull
#define EMU_RFLAGS_IF 0x200ull
#define EMU_RFLAGS_RF 0x10000ull
#define EMU_DR6_BS (1ull << 14)

/* Which indices of one event kind are intercepted (CR number, MSR index,
 * vector, ...). */
struct emu_filter {
    bool any;
    uint32_t n;
    uint32_t idx[EMU_FILTER_MAX];
};

/* Why the run thread set RFLAGS.TF for the next instruction. */
enum emu_step_reason {
    EMU_STEP_USER = 1u << 0,    /* SINGLESTEP intercept: report an event */
    EMU_STEP_SKIP = 1u << 1,    /* executing an instruction an event stopped before */
    EMU_STEP_EMULATE = 1u << 2, /* a memory access permitted once: restore after */
};

/* A "stop before this instruction" site: one UC_HOOK_CODE on one address. */
enum emu_site_kind {
    EMU_SITE_CR, EMU_SITE_XCR, EMU_SITE_DR, EMU_SITE_MSR, EMU_SITE_DESC,
    EMU_SITE_HYPERCALL, EMU_SITE_CPUID, EMU_SITE_DRBP,
};

struct emu_site {
    uint64_t addr;
    enum emu_site_kind kind;
    uint8_t len;        /* instruction length */
    uint8_t index;      /* CR/DR number, descriptor, DR breakpoint number */
    bool write;         /* DR/MSR/descriptor direction */
    uint16_t reg;       /* capstone register operand (CR/DR moves) */
    uc_hook hook;
    struct emu_vcpu *vcpu;
};

struct emu;

struct emu_vcpu {
    struct emu *emu;
    uint32_t id;
    uc_engine *uc;

    /* Scheduling state, under emu->lock. */
    bool paused;        /* microvmi_pause_vcpu */
    bool held;          /* an event waits for its reply */
    bool halted;        /* hlt with nothing to wake it, or a fatal fault */
    bool queued;        /* its event is in the queue, not yet listened */
    uint64_t token;
    struct microvmi_event ev;

    /* Set by hooks during a run, consumed by the run thread after it. */
    bool ev_ready;      /* ev holds a new event: hold the vCPU */
    bool restart;       /* stopped on purpose, not a halt */
    bool rip_set;       /* write new_rip once the engine stopped */
    uint64_t new_rip;
    bool emulate_done;  /* an EMULATE step finished: restore permissions */
    bool in_hlt;        /* halted by hlt: an injected exception wakes it */
    bool dead;          /* a fatal fault (fault[] says which): stop the vCPU */

    /* Intercepts of this vCPU, per event kind (changed while quiesced). */
    struct emu_filter filter[MICROVMI_EVENT_KIND_COUNT];
    bool singlestep;    /* SINGLESTEP intercept on */
    unsigned step;      /* enum emu_step_reason bits for the next instruction */
    bool tf_set;        /* this run started with our TF */
    uint64_t dr6_saved;
    uint64_t skip_addr; /* the instruction an event stopped before */
    uint64_t xcr0;

    /* A pending injected exception (microvmi_inject_exception, reinject). */
    bool inject;
    uint8_t inj_vector;
    bool inj_has_error;
    uint32_t inj_error;
    uint64_t inj_cr2;
    uint64_t inj_return_rip;

    /* SLAT: current view and what this engine has applied. */
    uint16_t view;
    uint8_t *applied_perm;   /* per gfn: protection set on this engine */
    uint32_t *applied_remap; /* per gfn: the frame mapped there */
    uint64_t emulate_gfn;    /* permitted once for an EMULATE reply */

    /* Hooks always present, and the optional ones. */
    uc_context *ctx;            /* scratch for emu_quirk_clear_old_exception */
    uc_hook h_intr, h_invalid, h_in, h_out, h_syscall, h_unmapped, h_prot;
    bool has_block, has_memsync;
    uc_hook h_block, h_memr, h_memw;
    struct emu_site **sites;
    size_t nsites, capsites;
    uint64_t drbp_applied[4];   /* DR exec breakpoints with a site, or EMU_NO_ADDR */

    char fault[160];            /* why it halted, for describe */
};

/* One SLAT view: permissions and frame substitution per gfn. */
struct emu_view {
    bool used;
    uint8_t *perm;      /* microvmi_access per gfn */
    uint32_t *remap;    /* frame per gfn (identity when unchanged) */
    uint64_t restricted;/* how many gfns are not RWX */
    uint64_t remapped;
};

/* The decoded sensitive instructions of one translation block. */
struct emu_scan_entry {
    uint64_t addr;
    uint32_t size;
    uint64_t hash;
    uint32_t nsites;
    struct emu_site sites[8];
};

struct emu {
    microvmi_t *vm;
    uint8_t *ram;
    uint64_t ram_size;
    uint64_t npages;
    uint32_t nvcpus;
    struct emu_vcpu vcpu[EMU_MAX_VCPUS];
    uint64_t entry;
    char kernel[512];
    FILE *serial;
    bool serial_owned;
    bool serial_dlab;         /* COM1 LCR.DLAB: port 0x3f8 is the divisor */
    csh cs;
    unsigned uc_major, uc_minor;
    long old_exc_off;         /* quirks.c: CPUX86State.old_exception in a context */

    pthread_mutex_t lock;
    pthread_cond_t cv_run;    /* run thread: something may be runnable */
    pthread_cond_t cv_idle;   /* API: no engine runs any more */
    pthread_cond_t cv_event;  /* listen: an event was queued */
    pthread_t run_thread, tick_thread;
    bool threads_started;
    bool quit;
    bool vm_paused;
    unsigned quiesce;
    struct emu_vcpu *current;
    uint32_t rr_next;
    atomic_bool stop_asked;   /* the ticker or a pauser stopped the current run */
    bool listener;            /* a listen() runs the VM on its own thread */
    bool run_idle;            /* the run thread waits for cv_run, untimed */
    uint64_t api_turn_until;  /* monotonic ns: the run thread waits until then */

    struct emu_vcpu *queue[EMU_MAX_VCPUS];
    uint32_t qlen;
    int efd;
    bool efd_armed;
    atomic_bool interrupted;
    uint64_t next_token;

    /* Intercept-wide state (changed while quiesced). */
    bool scan_on;             /* some vCPU intercepts a sensitive instruction */
    bool memsync_on;          /* some view restricts a page */
    struct emu_scan_entry *scan;   /* open-addressed cache of scanned blocks */
    size_t scan_cap;
    struct emu_view view[EMU_MAX_VIEWS];
    uint64_t slice_us;
};

/* quirks.c */
long emu_quirk_find_old_exception(void);
void emu_quirk_clear_old_exception(struct emu_vcpu *v);

/* machine.c */
enum microvmi_status emu_machine_open(struct emu *emu, const struct microvmi_params *params);
void emu_machine_close(struct emu *emu);
bool emu_gpa_ok(const struct emu *emu, uint64_t gpa, uint64_t len);
/* Drop translated code of [gpa, gpa+len) in every engine (engines must not run). */
void emu_invalidate(struct emu *emu, uint64_t gpa, uint64_t len);
void emu_invalidate_vcpu(struct emu_vcpu *v, uint64_t gpa, uint64_t len);
void emu_invalidate_all(struct emu_vcpu *v);

/* sched.c */
enum microvmi_status emu_sched_start(struct emu *emu);
void emu_sched_stop(struct emu *emu);
void emu_quiesce(struct emu *emu);
void emu_unquiesce(struct emu *emu);
enum microvmi_status emu_pause(struct emu *emu);
enum microvmi_status emu_resume(struct emu *emu);
enum microvmi_status emu_pause_vcpu(struct emu *emu, uint32_t vcpu);
enum microvmi_status emu_resume_vcpu(struct emu *emu, uint32_t vcpu);
/* True when the API may touch vCPU v's engine (held, paused, not running). */
bool emu_vcpu_stopped(struct emu *emu, struct emu_vcpu *v);
enum microvmi_status emu_listen(struct emu *emu, int timeout_ms, struct microvmi_event *ev);
enum microvmi_status emu_interrupt(struct emu *emu);
/* Hold v after its run: queue v->ev (run thread, under lock). */
void emu_post_event_locked(struct emu *emu, struct emu_vcpu *v);
void emu_kick_locked(struct emu *emu);

/* regs.c */
uint64_t emu_reg(struct emu_vcpu *v, int reg);
void emu_set_reg(struct emu_vcpu *v, int reg, uint64_t value);
uint64_t emu_msr(struct emu_vcpu *v, uint32_t index);
void emu_set_msr(struct emu_vcpu *v, uint32_t index, uint64_t value);
enum microvmi_status emu_read_regs(struct emu_vcpu *v, struct microvmi_x86_regs *r);
enum microvmi_status emu_write_regs(struct emu_vcpu *v, const struct microvmi_x86_regs *r);
void emu_flush_tlb(struct emu_vcpu *v);

/* deliver.c */
/* Deliver an exception through the guest's 64-bit IDT: push the frame, load
 * CS:RIP from the gate. return_rip is the RIP pushed. In a hook, in_hook
 * defers the RIP write (the run thread or Unicorn continues there). */
bool emu_deliver(struct emu_vcpu *v, uint8_t vector, bool has_error, uint32_t error,
                 uint64_t return_rip, bool stop_after);
bool emu_vector_has_error(uint8_t vector);

/* events.c: hooks that turn guest activity into events */
void emu_hooks_install(struct emu_vcpu *v);
bool emu_filter_match(const struct emu_filter *f, uint32_t index);
bool emu_filter_on(const struct emu_filter *f);
void emu_event_begin(struct emu_vcpu *v, enum microvmi_event_kind kind, uint64_t rip);
/* Stop the run at once; the run thread posts v->ev. */
void emu_event_stop(struct emu_vcpu *v);
uint8_t emu_insn_len(struct emu_vcpu *v, uint64_t addr);
uint64_t emu_fault_rip(struct emu_vcpu *v, uint64_t rip, uint64_t addr);
int emu_uc_gpr(unsigned cs_reg);

/* intercepts.c */
enum microvmi_status emu_toggle_intercept(struct emu *emu, uint32_t vcpu,
                                          const struct microvmi_intercept *what, bool enabled);
void emu_intercepts_refresh(struct emu *emu);
void emu_sites_clear(struct emu_vcpu *v);
void emu_drbp_sync(struct emu_vcpu *v);
void emu_intercepts_close(struct emu *emu);
void emu_scan_block(struct emu_vcpu *v, uint64_t addr, uint32_t size);
void emu_scan_forget(struct emu *emu);

/* reply.c */
enum microvmi_status emu_reply(struct emu *emu, const struct microvmi_event *ev,
                               const struct microvmi_reply *reply);
enum microvmi_status emu_inject(struct emu *emu, uint32_t vcpu, uint8_t vector, bool has_error,
                                uint32_t error, uint64_t cr2);
/* Before a run: pending injection, TF for steps. After: clean TF. */
void emu_step_prepare(struct emu_vcpu *v);
void emu_step_finish(struct emu_vcpu *v);

/* slat.c */
enum microvmi_status emu_slat_init(struct emu *emu);
void emu_slat_close(struct emu *emu);
void emu_slat_apply(struct emu_vcpu *v);
void emu_slat_permit_once(struct emu_vcpu *v, uint64_t gfn);
void emu_slat_restore(struct emu_vcpu *v, uint64_t gfn);
enum microvmi_status emu_set_page_access(struct emu *emu, uint16_t view, uint64_t gfn,
                                         enum microvmi_access allowed);
enum microvmi_status emu_get_page_access(struct emu *emu, uint16_t view, uint64_t gfn,
                                         enum microvmi_access *allowed);
enum microvmi_status emu_view_create(struct emu *emu, uint16_t *view);
enum microvmi_status emu_view_destroy(struct emu *emu, uint16_t view);
enum microvmi_status emu_view_switch(struct emu *emu, uint32_t vcpu, uint16_t view);
enum microvmi_status emu_view_change_gfn(struct emu *emu, uint16_t view, uint64_t old_gfn,
                                         uint64_t new_gfn);

#endif /* MICROVMI_EMU_H */
