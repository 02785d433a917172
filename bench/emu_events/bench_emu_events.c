/*
 * The emu driver's speed, each figure against raw Unicorn in the same run:
 *   1. int3 events per second through the public API (intercept, listen,
 *      reply CONTINUE on a guest int3) vs a raw UC_HOOK_INTR stop/resume loop;
 *   2. guest instructions per second with no intercept vs the same loop in a
 *      bare engine, then with each intercept kind enabled (none of them fire
 *      in that loop: this is the cost of having them on);
 *   3. a gdb-style `stepi` then `continue`, per pair.
 * Tiny kernels are written as ELF files to /tmp. Usage: bench_emu_events [--quick]
 */
#include <elf.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <unicorn/unicorn.h>

#include "microvmi.h"

#define LOAD 0x200000ull
#define COUNTER 0x300000ull
#define LOOP_INSNS 4

/* loop: add rax,rcx; xor rdx,rax; inc rcx; jmp loop  (progress: rcx) */
static const uint8_t loop_code[] = {0x48, 0x01, 0xc8, 0x48, 0x31, 0xc2,
                                    0x48, 0xff, 0xc1, 0xeb, 0xf5};
/* wait: cmp qword [COUNTER], 0; je wait; loop: int3; jmp loop
 * (the bench sets the counter once the int3 intercept is on) */
static const uint8_t int3_code[] = {0x48, 0x83, 0x3c, 0x25, 0x00, 0x00, 0x30, 0x00, 0x00,
                                    0x74, 0xf5, 0xcc, 0xeb, 0xfd};
#define INT3_AT (LOAD + 11)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool write_kernel(const char *path, const uint8_t *code, size_t len)
{
    struct {
        Elf64_Ehdr eh;
        Elf64_Phdr ph;
    } h;
    memset(&h, 0, sizeof h);
    memcpy(h.eh.e_ident, ELFMAG, SELFMAG);
    h.eh.e_ident[EI_CLASS] = ELFCLASS64;
    h.eh.e_ident[EI_DATA] = ELFDATA2LSB;
    h.eh.e_ident[EI_VERSION] = EV_CURRENT;
    h.eh.e_type = ET_EXEC;
    h.eh.e_machine = EM_X86_64;
    h.eh.e_version = EV_CURRENT;
    h.eh.e_entry = LOAD;
    h.eh.e_phoff = sizeof h.eh;
    h.eh.e_ehsize = sizeof h.eh;
    h.eh.e_phentsize = sizeof h.ph;
    h.eh.e_phnum = 1;
    h.ph.p_type = PT_LOAD;
    h.ph.p_flags = PF_R | PF_X | PF_W;
    h.ph.p_offset = 0x1000;
    h.ph.p_vaddr = h.ph.p_paddr = LOAD;
    h.ph.p_filesz = len;
    h.ph.p_memsz = len;
    h.ph.p_align = 0x1000;
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    uint8_t pad[0x1000] = {0};
    memcpy(pad, &h, sizeof h);
    bool ok = fwrite(pad, 1, sizeof pad, f) == sizeof pad && fwrite(code, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

static microvmi_t *open_kernel(const char *path)
{
    char k[300];
    snprintf(k, sizeof k, "kernel=%s", path);
    const char *params[] = {k, "vcpus=1", "mem=16M", NULL};
    microvmi_t *vm = NULL;
    char *err = NULL;
    if (microvmi_init("emu", params, &vm, &err) != MICROVMI_OK) {
        fprintf(stderr, "bench: %s\n", err ? err : "cannot open the emu driver");
        free(err);
        return NULL;
    }
    return vm;
}

/* ------------------------------------------------------------ raw Unicorn */

static uc_engine *raw_engine(const uint8_t *code, size_t len, uint8_t **ram)
{
    uc_engine *uc;
    *ram = mmap(NULL, 16 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uc_open(UC_ARCH_X86, UC_MODE_64, &uc);
    uc_mem_map_ptr(uc, 0, 16 << 20, UC_PROT_ALL, *ram);
    memcpy(*ram + LOAD, code, len);
    return uc;
}

static double raw_loop_ips_once(double seconds)
{
    uint8_t *ram;
    uc_engine *uc = raw_engine(loop_code, sizeof loop_code, &ram);
    double t = now_s();
    uc_emu_start(uc, LOAD, 0, (uint64_t)(seconds * 1e6), 0);
    t = now_s() - t;
    uint64_t n = 0;
    uc_reg_read(uc, UC_X86_REG_RCX, &n);
    uc_close(uc);
    munmap(ram, 16 << 20);
    return (double)n * LOOP_INSNS / t;
}

static double raw_loop_ips(double seconds)
{
    double best = 0;
    for (int i = 0; i < 3; i++) {
        double r = raw_loop_ips_once(seconds / 3);
        best = r > best ? r : best;
    }
    return best;
}

static void raw_int3_stop(uc_engine *uc, uint32_t intno, void *user)
{
    (void)intno;
    (*(uint64_t *)user)++;
    uc_emu_stop(uc);
}

static double raw_int3_rate(uint64_t n)
{
    uint8_t *ram;
    uc_engine *uc = raw_engine(int3_code, sizeof int3_code, &ram);
    uint64_t hits = 0;
    uc_hook h;
    uc_hook_add(uc, &h, UC_HOOK_INTR, (void *)raw_int3_stop, &hits, 1, 0);
    double t = now_s();
    while (hits < n)
        uc_emu_start(uc, INT3_AT, 0, 0, 0); /* re-execute the int3, as CONTINUE does */
    t = now_s() - t;
    uc_close(uc);
    munmap(ram, 16 << 20);
    return (double)hits / t;
}

/* ------------------------------------------------------------ the driver */

static uint64_t rcx_of(microvmi_t *vm)
{
    struct microvmi_x86_regs r;
    microvmi_pause(vm);
    microvmi_read_registers(vm, 0, &r);
    microvmi_resume(vm);
    return r.rcx;
}

static double driver_loop_ips_once(microvmi_t *vm, double seconds)
{
    uint64_t a = rcx_of(vm);
    double t = now_s();
    usleep((useconds_t)(seconds * 1e6));
    uint64_t b = rcx_of(vm);
    t = now_s() - t;
    return (double)(b - a) * LOOP_INSNS / t;
}

/* Best of three windows: the machine may be shared with other jobs. */
static double driver_loop_ips(microvmi_t *vm, double seconds)
{
    double best = 0;
    for (int i = 0; i < 3; i++) {
        double r = driver_loop_ips_once(vm, seconds / 3);
        best = r > best ? r : best;
    }
    return best;
}

static double driver_int3_rate(const char *path, uint64_t n)
{
    microvmi_t *vm = open_kernel(path);
    if (!vm)
        return 0;
    struct microvmi_intercept w = {.kind = MICROVMI_EVENT_INT3, .index = MICROVMI_ANY};
    microvmi_toggle_intercept(vm, MICROVMI_ALL_VCPUS, &w, true);
    uint64_t go = 1;
    microvmi_write_physical(vm, COUNTER, &go, 8, NULL);
    struct microvmi_reply r = {.flags = MICROVMI_RESPONSE_CONTINUE};
    struct microvmi_event ev;
    uint64_t got = 0;
    double t = now_s();
    while (got < n && microvmi_listen(vm, 1000, &ev) == MICROVMI_OK) {
        microvmi_reply(vm, &ev, &r);
        got++;
    }
    t = now_s() - t;
    microvmi_destroy(vm);
    return (double)got / t;
}

static double stepi_continue_us(microvmi_t *vm, int pairs)
{
    struct microvmi_intercept ss = {.kind = MICROVMI_EVENT_SINGLESTEP};
    struct microvmi_reply off = {.flags = MICROVMI_RESPONSE_TOGGLE_SINGLESTEP};
    struct microvmi_event ev;
    microvmi_pause(vm);
    double t = now_s();
    for (int i = 0; i < pairs; i++) {
        microvmi_toggle_intercept(vm, 0, &ss, true);           /* stepi */
        microvmi_resume(vm);
        if (microvmi_listen(vm, 5000, &ev) != MICROVMI_OK)
            return -1;
        microvmi_reply(vm, &ev, &off);                         /* continue */
        microvmi_pause(vm);                                    /* ^C */
    }
    t = now_s() - t;
    microvmi_resume(vm);
    return t / pairs * 1e6;
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    double secs = quick ? 0.2 : 1.0;
    uint64_t nev = quick ? 20000 : 200000;
    char loop_path[] = "/tmp/microvmi-bench-loop.elf", int3_path[] = "/tmp/microvmi-bench-int3.elf";
    if (!write_kernel(loop_path, loop_code, sizeof loop_code) ||
        !write_kernel(int3_path, int3_code, sizeof int3_code)) {
        fprintf(stderr, "bench: cannot write the tiny kernels to /tmp\n");
        return 1;
    }
    unsigned maj, min;
    uc_version(&maj, &min);
    printf("emu driver benchmarks (Unicorn %u.%u, 1 vCPU, tiny kernels)\n", maj, min);

    double raw_ev = raw_int3_rate(nev);
    double api_ev = driver_int3_rate(int3_path, nev);
    printf("int3 events/s: API (listen + reply CONTINUE) %.0f/s, raw Unicorn stop/resume %.0f/s, "
           "ratio %.2f\n",
           api_ev, raw_ev, api_ev / raw_ev);

    double raw_ips = raw_loop_ips(secs);
    microvmi_t *vm = open_kernel(loop_path);
    if (!vm)
        return 1;
    usleep(50000);
    double drv_ips = driver_loop_ips(vm, secs);
    printf("guest insn/s, no intercept: driver %.1f M/s, raw Unicorn %.1f M/s, ratio %.2f\n",
           drv_ips / 1e6, raw_ips / 1e6, drv_ips / raw_ips);

    static const struct { enum microvmi_event_kind kind; const char *name; } kinds[] = {
        {MICROVMI_EVENT_INT3, "int3"},       {MICROVMI_EVENT_EXCEPTION, "exception"},
        {MICROVMI_EVENT_CR, "cr"},           {MICROVMI_EVENT_MSR, "msr"},
        {MICROVMI_EVENT_CPUID, "cpuid"},     {MICROVMI_EVENT_DESCRIPTOR, "descriptor"},
        {MICROVMI_EVENT_DR, "dr"},           {MICROVMI_EVENT_XCR, "xcr"},
        {MICROVMI_EVENT_HYPERCALL, "hypercall"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        struct microvmi_intercept w = {.kind = kinds[i].kind, .index = MICROVMI_ANY};
        microvmi_toggle_intercept(vm, MICROVMI_ALL_VCPUS, &w, true);
        usleep(20000);
        double ips = driver_loop_ips(vm, secs);
        microvmi_toggle_intercept(vm, MICROVMI_ALL_VCPUS, &w, false);
        printf("guest insn/s, %-10s intercept on: %.1f M/s (%.2f of raw)\n", kinds[i].name,
               ips / 1e6, ips / raw_ips);
    }
    /* Memory: one restricted page elsewhere switches every access to the
     * exact-RIP path. */
    microvmi_set_page_access(vm, 0, 0x800, MICROVMI_ACCESS_R);
    usleep(20000);
    double mem_ips = driver_loop_ips(vm, secs);
    microvmi_set_page_access(vm, 0, 0x800, MICROVMI_ACCESS_RWX);
    printf("guest insn/s, %-10s intercept on: %.1f M/s (%.2f of raw)\n", "memory",
           mem_ips / 1e6, mem_ips / raw_ips);

    double pair = stepi_continue_us(vm, quick ? 50 : 500);
    printf("stepi + continue (+ pause): %.1f us per pair (Unicorn count=1 then count=0: ~110 ms)\n",
           pair);
    microvmi_destroy(vm);
    unlink(loop_path);
    unlink(int3_path);

    return 0;
}
