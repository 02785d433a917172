/*
 * microvmi.h — one C API over many hypervisors' introspection interfaces.
 *
 * A handle (microvmi_t) opens one VM through one driver. Every call returns an
 * enum microvmi_status and never aborts; on error the handle keeps a message
 * (microvmi_last_error) that says what failed and what to do about it. A
 * driver that lacks an operation answers MICROVMI_NOT_SUPPORTED; what a driver
 * can do is advertised up front as capability bits (microvmi_capabilities).
 *
 * Threading: one handle is used by one thread at a time, except
 * microvmi_interrupt(), which any thread (or a signal handler's helper thread)
 * may call to make a blocking microvmi_listen() return early.
 */
#ifndef MICROVMI_H
#define MICROVMI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The shared library exports exactly what this header declares. */
#if defined(MICROVMI_BUILDING_LIBRARY) && defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define MICROVMI_VERSION_MAJOR 0
#define MICROVMI_VERSION_MINOR 1
#define MICROVMI_VERSION_PATCH 0
#define MICROVMI_VERSION "0.1.0"

typedef struct microvmi microvmi_t;

/* ------------------------------------------------------------------ status */

enum microvmi_status {
    MICROVMI_OK = 0,
    MICROVMI_NOT_SUPPORTED,        /* this driver (or hypervisor) cannot do it */
    MICROVMI_INVALID_ARG,          /* a parameter is out of range or malformed */
    MICROVMI_NO_MEMORY_AT_ADDRESS, /* a guest-physical address is not backed */
    MICROVMI_TRANSLATION_FAULT,    /* a virtual address does not map (not present, reserved bit) */
    MICROVMI_TIMEOUT,              /* nothing happened within the timeout */
    MICROVMI_INTERRUPTED,          /* microvmi_interrupt() woke a blocking call */
    MICROVMI_VM_GONE,              /* the VM (or hypervisor connection) ended */
    MICROVMI_NO_SUCH_DRIVER,       /* no compiled driver has that name */
    MICROVMI_INIT_FAILED,          /* the driver could not open the VM (see message) */
    MICROVMI_BAD_STATE,            /* e.g. writing a running vCPU's registers */
    MICROVMI_IO_ERROR,             /* a file, socket or hypervisor call failed */
    MICROVMI_OUT_OF_MEMORY,        /* host memory exhausted */
    MICROVMI_READ_ONLY,            /* the target cannot be written (e.g. a dump) */
    MICROVMI_STATUS_COUNT
};

/* A stable, lower-case name for a status ("ok", "not supported", ...). */
const char *microvmi_status_str(enum microvmi_status status);

/* ------------------------------------------------------------ capabilities */

/*
 * One bit per row of the VMI feature tables (../shared/seeds), plus the
 * native mechanisms a hypervisor may offer where it has no intercepts.
 * The table returned by microvmi_capability_table() names and groups them;
 * every printed matrix (CLI, stub, README) is generated from it.
 */
enum microvmi_capability {
    /* Accessing the VM's hardware state */
    MICROVMI_CAP_VCPU_COUNT        = 1ull << 0,
    MICROVMI_CAP_MAX_GFN           = 1ull << 1,
    MICROVMI_CAP_PAUSE_RESUME      = 1ull << 2,
    MICROVMI_CAP_READ_PHYSICAL     = 1ull << 3,
    MICROVMI_CAP_WRITE_PHYSICAL    = 1ull << 4,
    MICROVMI_CAP_READ_VIRTUAL      = 1ull << 5,
    MICROVMI_CAP_WRITE_VIRTUAL     = 1ull << 6,
    MICROVMI_CAP_READ_REGISTERS    = 1ull << 7,
    MICROVMI_CAP_WRITE_REGISTERS   = 1ull << 8,
    /* Intercepting the VM's hardware events */
    MICROVMI_CAP_EVENT_CR          = 1ull << 9,  /* mov to CR0/CR3/CR4/CR8 */
    MICROVMI_CAP_EVENT_XCR         = 1ull << 10, /* xsetbv */
    MICROVMI_CAP_EVENT_DR          = 1ull << 11, /* mov to/from DRx */
    MICROVMI_CAP_EVENT_MSR         = 1ull << 12, /* rdmsr/wrmsr */
    MICROVMI_CAP_EVENT_SINGLESTEP  = 1ull << 13, /* MTF */
    MICROVMI_CAP_EVENT_INT3        = 1ull << 14, /* software breakpoints */
    MICROVMI_CAP_EVENT_EXCEPTION   = 1ull << 15, /* other exceptions and int N */
    MICROVMI_CAP_EVENT_DESCRIPTOR  = 1ull << 16, /* lgdt/lidt/lldt/ltr, sgdt/... */
    MICROVMI_CAP_EVENT_HYPERCALL   = 1ull << 17, /* vmcall/vmmcall */
    MICROVMI_CAP_EVENT_CPUID       = 1ull << 18,
    MICROVMI_CAP_EVENT_MEMORY      = 1ull << 19, /* r/w/x per page (SLAT) */
    MICROVMI_CAP_ALTERNATE_SLAT    = 1ull << 20, /* views */
    MICROVMI_CAP_PROCESSOR_TRACE   = 1ull << 21, /* Intel PT packets */
    /* Utilities */
    MICROVMI_CAP_FOREIGN_MAPPING   = 1ull << 22,
    MICROVMI_CAP_INJECT_EXCEPTION  = 1ull << 23, /* incl. page-fault injection */
    /* Native mechanisms (a hypervisor's own debugger, e.g. QEMU's gdbstub) */
    MICROVMI_CAP_NATIVE_BREAKPOINT = 1ull << 24, /* execution breakpoints */
    MICROVMI_CAP_NATIVE_HW_BREAKPOINT = 1ull << 25, /* debug-register breakpoints */
    MICROVMI_CAP_NATIVE_WATCHPOINT = 1ull << 26,
    MICROVMI_CAP_NATIVE_SINGLESTEP = 1ull << 27,
};

enum microvmi_cap_group {
    MICROVMI_CAP_GROUP_STATE,
    MICROVMI_CAP_GROUP_EVENTS,
    MICROVMI_CAP_GROUP_UTILITIES,
    MICROVMI_CAP_GROUP_NATIVE,
};

struct microvmi_cap_info {
    uint64_t bit;
    enum microvmi_cap_group group;
    const char *name;        /* short id: "read_physical", "event_cr", ... */
    const char *title;       /* the seed row: "r/w physical memory (read)" */
};

/* The fixed table of every capability bit, in display order. */
const struct microvmi_cap_info *microvmi_capability_table(size_t *count);
const char *microvmi_cap_group_title(enum microvmi_cap_group group);

/* Numbers as drivers' key=value params take them, so tools built on this API
 * read numbers the same way: decimal or 0x hex (a leading 0 never means
 * octal), optional K/M/G/T suffix (powers of 1024, "KiB"/"MB" spellings too),
 * no overflow. Returns false when text is malformed. */
bool microvmi_parse_u64(const char *text, uint64_t *out);

/* ---------------------------------------------------------------- drivers */

struct microvmi_driver_info {
    const char *name;         /* "emu", "qemu", "file", "xen", "kvmi" */
    const char *description;  /* one line */
    uint64_t capabilities;    /* what an opened VM of this driver can do, at most */
    const char *limits;       /* one line of known limits, or "" */
    const char *params;       /* "kernel=PATH vcpus=N mem=SIZE" */
};

/* Compiled-in drivers, in auto-detect order. */
size_t microvmi_driver_count(void);
const struct microvmi_driver_info *microvmi_driver_at(size_t index);
const struct microvmi_driver_info *microvmi_driver_find(const char *name);

/*
 * Print the capability matrix of every compiled driver. format is "text"
 * (terminal) or "markdown" (the README table); one source of truth.
 */
enum microvmi_status microvmi_print_driver_matrix(FILE *out, const char *format);

/* --------------------------------------------------------------- lifecycle */

/*
 * Open a VM. driver: a name from microvmi_driver_at(), or NULL to try each
 * compiled driver in order with these params. params: NULL-terminated array
 * of "key=value" strings (may be NULL). On failure *vm is NULL and, if err is
 * not NULL, *err is a malloc'd message (free() it) saying what to do.
 */
enum microvmi_status microvmi_init(const char *driver, const char *const *params,
                                   microvmi_t **vm, char **err);
/* Removes every intercept and permission set through this handle, resumes
 * the VM if this handle paused it, and frees the handle. NULL is a no-op. */
void microvmi_destroy(microvmi_t *vm);

const char *microvmi_last_error(const microvmi_t *vm);
const char *microvmi_driver_name(const microvmi_t *vm);
uint64_t microvmi_capabilities(const microvmi_t *vm);
/* A few lines of driver-specific facts for "info" (may be empty). */
enum microvmi_status microvmi_describe(microvmi_t *vm, char *buf, size_t len);

/* ---------------------------------------------------------- hardware state */

enum microvmi_status microvmi_vcpu_count(microvmi_t *vm, uint32_t *count);
enum microvmi_status microvmi_max_gfn(microvmi_t *vm, uint64_t *max_gfn);

/* Pause/resume the whole VM. Pause is synchronous: when it returns OK no
 * vCPU executes. A vCPU held by an unanswered event stays paused after
 * resume until microvmi_reply(). */
enum microvmi_status microvmi_pause(microvmi_t *vm);
enum microvmi_status microvmi_resume(microvmi_t *vm);
/* Per vCPU: a vCPU runs iff the VM is resumed, the vCPU is resumed and no
 * event holds it. */
enum microvmi_status microvmi_pause_vcpu(microvmi_t *vm, uint32_t vcpu);
enum microvmi_status microvmi_resume_vcpu(microvmi_t *vm, uint32_t vcpu);

/* Segment attributes in the packed VMX/SVM layout:
 * bits 0-3 type, 4 S, 5-6 DPL, 7 P, 8 AVL, 9 L, 10 D/B, 11 G. */
struct microvmi_segment {
    uint64_t base;
    uint32_t limit;
    uint16_t selector;
    uint16_t attributes;
};

struct microvmi_dtable {
    uint64_t base;
    uint16_t limit;
};

/* FXSAVE-shaped x87/SSE state. */
struct microvmi_fpu {
    uint16_t fcw, fsw;
    uint16_t ftw;           /* full tag word, 2 bits per register */
    uint16_t fop;
    uint16_t fcs, fds;      /* gdb's fiseg / foseg */
    uint64_t fip, fdp;      /* gdb's fioff / fooff */
    uint32_t mxcsr;
    uint8_t st[8][10];      /* 80-bit registers ST0..ST7 */
    uint8_t xmm[16][16];
};

/* Which groups of struct microvmi_x86_regs a driver filled in. */
enum microvmi_regs_present {
    MICROVMI_REGS_GPR       = 1u << 0, /* rax..r15, rip, rflags */
    MICROVMI_REGS_SEGMENTS  = 1u << 1, /* selectors, bases, limits, attributes */
    MICROVMI_REGS_CONTROL   = 1u << 2, /* cr0, cr2, cr3, cr4, cr8 */
    MICROVMI_REGS_XCR0      = 1u << 3,
    MICROVMI_REGS_DEBUG     = 1u << 4, /* dr0-3, dr6, dr7 */
    MICROVMI_REGS_MSRS      = 1u << 5, /* efer, syscall/sysenter msrs, kernel_gs_base */
    MICROVMI_REGS_DTABLES   = 1u << 6, /* gdtr, idtr (ldtr/tr are segments) */
    MICROVMI_REGS_FPU       = 1u << 7,
};

struct microvmi_x86_regs {
    uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp;
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rip, rflags;
    struct microvmi_segment cs, ss, ds, es, fs, gs, ldtr, tr;
    struct microvmi_dtable gdtr, idtr;
    uint64_t cr0, cr2, cr3, cr4, cr8, xcr0;
    uint64_t dr0, dr1, dr2, dr3, dr6, dr7;
    uint64_t efer, star, lstar, cstar, sfmask;
    uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
    uint64_t kernel_gs_base; /* fs/gs bases are fs.base and gs.base */
    struct microvmi_fpu fpu;
    uint32_t present;        /* enum microvmi_regs_present bits */
};

/* Registers of a paused vCPU (or of one held by an event). Writing a
 * running vCPU's registers returns MICROVMI_BAD_STATE. write_registers
 * writes the groups set in regs->present. */
enum microvmi_status microvmi_read_registers(microvmi_t *vm, uint32_t vcpu,
                                             struct microvmi_x86_regs *regs);
enum microvmi_status microvmi_write_registers(microvmi_t *vm, uint32_t vcpu,
                                              const struct microvmi_x86_regs *regs);

/* ------------------------------------------------------------------ memory */

/*
 * Physical memory of any length; page crossings are handled in core. On
 * error, *done (if not NULL) says how many bytes were transferred before the
 * first address that failed, and the last-error message names that address.
 */
enum microvmi_status microvmi_read_physical(microvmi_t *vm, uint64_t gpa, void *buf,
                                            size_t len, size_t *done);
enum microvmi_status microvmi_write_physical(microvmi_t *vm, uint64_t gpa, const void *buf,
                                             size_t len, size_t *done);

enum microvmi_paging_mode {
    MICROVMI_PAGING_NONE = 0,   /* paging off: virtual == physical */
    MICROVMI_PAGING_32BIT,      /* 2-level, 4 KiB and (with PSE) 4 MiB pages */
    MICROVMI_PAGING_PAE,        /* 3-level, 4 KiB and 2 MiB pages */
    MICROVMI_PAGING_4LEVEL,     /* IA-32e, 4 KiB, 2 MiB, 1 GiB pages */
    MICROVMI_PAGING_5LEVEL,     /* LA57 */
};

/* Everything the page walker needs to know about one address space. */
struct microvmi_address_space {
    enum microvmi_paging_mode mode;
    uint64_t cr3;
    bool nxe;                   /* EFER.NXE: bit 63 is NX (else reserved) */
    bool pse;                   /* CR4.PSE: 4 MiB pages in 32-bit paging */
    uint8_t maxphyaddr;         /* physical address width; 0 means 52 */
};

/* The address space a vCPU runs in now (CR0/CR3/CR4/EFER). */
enum microvmi_status microvmi_vcpu_address_space(microvmi_t *vm, uint32_t vcpu,
                                                 struct microvmi_address_space *as);

struct microvmi_translation {
    uint64_t gva;
    uint64_t gpa;
    uint64_t page_size;         /* 4 KiB, 2 MiB, 4 MiB or 1 GiB */
    bool writable;              /* effective R/W over all levels */
    bool user;                  /* effective U/S over all levels */
    bool nx;                    /* effective XD over all levels */
    uint8_t levels;             /* how many entries were read */
    uint64_t entries[5];        /* the entries read, top level first */
};

enum microvmi_status microvmi_translate(microvmi_t *vm, const struct microvmi_address_space *as,
                                        uint64_t gva, struct microvmi_translation *out);
enum microvmi_status microvmi_read_virtual(microvmi_t *vm, const struct microvmi_address_space *as,
                                           uint64_t gva, void *buf, size_t len, size_t *done);
enum microvmi_status microvmi_write_virtual(microvmi_t *vm, const struct microvmi_address_space *as,
                                            uint64_t gva, const void *buf, size_t len,
                                            size_t *done);

/* Foreign mapping: a host pointer to guest-physical memory [gpa, gpa+len).
 * Valid until microvmi_unmap_physical() or microvmi_destroy(). */
enum microvmi_status microvmi_map_physical(microvmi_t *vm, uint64_t gpa, size_t len,
                                           bool writable, void **host);
enum microvmi_status microvmi_unmap_physical(microvmi_t *vm, void *host, size_t len);

/* ------------------------------------------------------------------ events */

enum microvmi_event_kind {
    MICROVMI_EVENT_CR = 1,      /* mov to CR0/3/4/8 */
    MICROVMI_EVENT_XCR,         /* xsetbv */
    MICROVMI_EVENT_DR,          /* mov to/from DRx */
    MICROVMI_EVENT_MSR,         /* rdmsr/wrmsr */
    MICROVMI_EVENT_INT3,        /* #BP from an int3 instruction */
    MICROVMI_EVENT_EXCEPTION,   /* any other exception or int N */
    MICROVMI_EVENT_SINGLESTEP,  /* one instruction retired (MTF or native step) */
    MICROVMI_EVENT_DESCRIPTOR,  /* lgdt/lidt/lldt/ltr/sgdt/sidt/sldt/str */
    MICROVMI_EVENT_HYPERCALL,   /* vmcall/vmmcall */
    MICROVMI_EVENT_CPUID,
    MICROVMI_EVENT_MEMORY,      /* SLAT permission violation */
    MICROVMI_EVENT_BREAKPOINT,  /* native execution / hw breakpoint hit */
    MICROVMI_EVENT_WATCHPOINT,  /* native watchpoint hit */
    MICROVMI_EVENT_PAUSED,      /* the VM stopped for a reason of its own (native drivers) */
    MICROVMI_EVENT_SHUTDOWN,    /* the VM powered off or the hypervisor went away */
    MICROVMI_EVENT_KIND_COUNT
};

const char *microvmi_event_kind_str(enum microvmi_event_kind kind); /* "cr", "int3", ... */
/* Parse a name as printed by microvmi_event_kind_str; also "cr0","cr3","cr4","cr8". */
enum microvmi_status microvmi_event_kind_parse(const char *name, enum microvmi_event_kind *kind);

enum microvmi_access {
    MICROVMI_ACCESS_NONE = 0,
    MICROVMI_ACCESS_R = 1,
    MICROVMI_ACCESS_W = 2,
    MICROVMI_ACCESS_X = 4,
    MICROVMI_ACCESS_RW = 3,
    MICROVMI_ACCESS_RWX = 7,
};

enum microvmi_descriptor {
    MICROVMI_DESC_GDTR, MICROVMI_DESC_IDTR, MICROVMI_DESC_LDTR, MICROVMI_DESC_TR,
};

/* What to intercept. Fields beyond kind are filters: index selects the CR
 * number (0,3,4,8), MSR index, DR number, or exception vector; use
 * MICROVMI_ANY to intercept all of that kind. */
#define MICROVMI_ANY UINT32_MAX
#define MICROVMI_ALL_VCPUS UINT32_MAX

struct microvmi_intercept {
    enum microvmi_event_kind kind;
    uint32_t index;
};

enum microvmi_status microvmi_toggle_intercept(microvmi_t *vm, uint32_t vcpu,
                                               const struct microvmi_intercept *what,
                                               bool enabled);

struct microvmi_event {
    enum microvmi_event_kind kind;
    uint32_t vcpu;
    uint64_t rip;               /* guest RIP at the event */
    uint64_t cr3;
    uint16_t view;              /* the vCPU's current SLAT view */
    uint64_t token;             /* driver's own; pass the event back unchanged */
    union {
        struct { uint8_t index; uint64_t old_value, new_value; } cr;
        struct { uint32_t index; uint64_t old_value, new_value; } xcr;
        struct { uint8_t index; bool write; uint64_t value; } dr;
        struct { uint32_t index; bool write; uint64_t value; } msr;
        struct { uint64_t gpa, gva; uint8_t insn_len; } int3;
        struct {
            uint8_t vector; bool software; bool has_error_code;
            uint32_t error_code; uint64_t cr2; uint8_t insn_len;
        } exception;
        struct { uint64_t gpa; } singlestep;
        struct { enum microvmi_descriptor which; bool write; uint8_t insn_len; } descriptor;
        struct { uint64_t nr; uint8_t insn_len; } hypercall;
        struct { uint32_t leaf, subleaf; uint8_t insn_len; } cpuid;
        struct {
            uint64_t gpa, gva; bool gva_valid; enum microvmi_access access;
            uint32_t size;      /* bytes accessed, when the driver knows */
        } memory;
        struct { uint64_t address; } breakpoint;
        struct { uint64_t address; enum microvmi_access access; } watchpoint;
        struct { int exit_code; bool crashed; } shutdown;
    } u;
};

/* Format one event as one line of JSON (no newline): "vcpu", "kind", "rip",
 * "cr3" and the kind's fields (gpa, gva, insn_len, vector, cr, old, new, msr,
 * value, access, leaf, ...). 64-bit values are "0x..." strings. INVALID_ARG
 * when buf is too small (512 bytes always suffice). */
enum microvmi_status microvmi_event_to_json(const struct microvmi_event *ev, char *buf,
                                            size_t len);

/* Wait up to timeout_ms (0: poll, -1: forever) for one event. The event's
 * vCPU stays paused until microvmi_reply(); other vCPUs keep running.
 * Returns MICROVMI_TIMEOUT when none came, MICROVMI_INTERRUPTED when
 * microvmi_interrupt() was called, MICROVMI_VM_GONE after a SHUTDOWN. */
enum microvmi_status microvmi_listen(microvmi_t *vm, int timeout_ms, struct microvmi_event *ev);
/* Thread-safe: makes a blocking listen() return MICROVMI_INTERRUPTED. */
enum microvmi_status microvmi_interrupt(microvmi_t *vm);
/* A file descriptor that polls readable when listen() has an event; -1 if none. */
int microvmi_event_fd(microvmi_t *vm);

enum microvmi_response {
    MICROVMI_RESPONSE_CONTINUE          = 0,
    MICROVMI_RESPONSE_REINJECT          = 1u << 0, /* deliver the exception to the guest */
    MICROVMI_RESPONSE_EMULATE           = 1u << 1, /* perform the access despite permissions */
    MICROVMI_RESPONSE_DENY              = 1u << 2, /* skip the write / instruction */
    MICROVMI_RESPONSE_TOGGLE_SINGLESTEP = 1u << 3,
    MICROVMI_RESPONSE_SET_REGISTERS     = 1u << 4, /* load reply.regs before resuming */
    MICROVMI_RESPONSE_SWITCH_VIEW       = 1u << 5, /* vCPU continues in reply.view */
    MICROVMI_RESPONSE_SET_CPUID         = 1u << 6, /* CPUID result is reply.cpuid */
};

struct microvmi_reply {
    uint32_t flags;                       /* enum microvmi_response bits */
    const struct microvmi_x86_regs *regs; /* SET_REGISTERS */
    uint16_t view;                        /* SWITCH_VIEW */
    uint32_t cpuid[4];                    /* SET_CPUID: eax, ebx, ecx, edx */
};

enum microvmi_status microvmi_reply(microvmi_t *vm, const struct microvmi_event *ev,
                                    const struct microvmi_reply *reply);

/* Inject an exception into a paused vCPU (delivered on resume). */
enum microvmi_status microvmi_inject_exception(microvmi_t *vm, uint32_t vcpu, uint8_t vector,
                                               bool has_error_code, uint32_t error_code,
                                               uint64_t cr2);

/* ------------------------------------------------------- SLAT and views */

/* Allowed access on one guest frame in one view (0 is the default view).
 * An access that is not allowed raises MICROVMI_EVENT_MEMORY. */
enum microvmi_status microvmi_set_page_access(microvmi_t *vm, uint16_t view, uint64_t gfn,
                                              enum microvmi_access allowed);
enum microvmi_status microvmi_get_page_access(microvmi_t *vm, uint16_t view, uint64_t gfn,
                                              enum microvmi_access *allowed);
enum microvmi_status microvmi_view_create(microvmi_t *vm, uint16_t *view);
enum microvmi_status microvmi_view_destroy(microvmi_t *vm, uint16_t view);
enum microvmi_status microvmi_view_switch(microvmi_t *vm, uint32_t vcpu, uint16_t view);
/* In view, accesses to old_gfn reach new_gfn instead (Xen altp2m). */
enum microvmi_status microvmi_view_change_gfn(microvmi_t *vm, uint16_t view, uint64_t old_gfn,
                                              uint64_t new_gfn);

/* ------------------------------------------------------- native mechanisms */

enum microvmi_native_kind {
    MICROVMI_NATIVE_EXEC,        /* software execution breakpoint */
    MICROVMI_NATIVE_HW_EXEC,     /* hardware execution breakpoint */
    MICROVMI_NATIVE_WATCH_WRITE,
    MICROVMI_NATIVE_WATCH_READ,
    MICROVMI_NATIVE_WATCH_ACCESS,
};

/* Insert or remove the hypervisor's own breakpoint/watchpoint at a guest
 * virtual address (as its debugger sees addresses). */
enum microvmi_status microvmi_native_breakpoint(microvmi_t *vm, enum microvmi_native_kind kind,
                                                uint64_t address, uint64_t len, bool insert);
/* Let one paused vCPU execute one instruction; a SINGLESTEP event follows. */
enum microvmi_status microvmi_native_step(microvmi_t *vm, uint32_t vcpu);

#if defined(MICROVMI_BUILDING_LIBRARY) && defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif /* MICROVMI_H */
