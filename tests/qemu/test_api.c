/* The qemu driver through microvmi.h against the bundled guest under real
 * QEMU TCG, launched by the driver (launch=1): memory from the RAM file,
 * pause/resume, registers, native breakpoint, single-step, watchpoint,
 * register writes, interrupt, and a clean end (QEMU quits, files removed).
 * usage: test_qemu_api GUEST.elf
 *        test_qemu_api GUEST.elf QMP GDB MEM   attach, stop at a breakpoint, set a
 *                                              watchpoint, then leave mid-event */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "microvmi.h"

static int failures;
#define CHECK(cond, ...)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                 \
            fprintf(stderr, "\n");                                                        \
            failures++;                                                                   \
        }                                                                                 \
    } while (0)
#define MUST(cond, ...)                                                                   \
    do {                                                                                  \
        bool ok_ = (cond);                                                                \
        CHECK(ok_, __VA_ARGS__);                                                          \
        if (!ok_)                                                                         \
            goto out;                                                                     \
    } while (0)

static uint64_t sym(const char *elf_path, const char *name)
{
    uint64_t value = 0;
    elf_version(EV_CURRENT);
    int fd = open(elf_path, O_RDONLY);
    if (fd < 0)
        return 0;
    Elf *e = elf_begin(fd, ELF_C_READ, NULL);
    Elf_Scn *scn = NULL;
    while (e && (scn = elf_nextscn(e, scn)) && !value) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
            continue;
        Elf_Data *d = elf_getdata(scn, NULL);
        for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
            GElf_Sym s;
            if (gelf_getsym(d, (int)i, &s) &&
                !strcmp(elf_strptr(e, sh.sh_link, s.st_name), name))
                value = s.st_value;
        }
    }
    elf_end(e);
    close(fd);
    return value;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

static double t0;
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}
#define STEP(what) fprintf(stderr, "[%6.2fs] %s\n", now_s() - t0, what)

static uint64_t counter(microvmi_t *vm, uint64_t addr)
{
    uint64_t v = 0;
    microvmi_read_physical(vm, addr, &v, sizeof v, NULL);
    return v;
}

/* Listen for one event of the given kind (others are answered). */
static enum microvmi_status wait_kind(microvmi_t *vm, enum microvmi_event_kind kind,
                                      struct microvmi_event *ev)
{
    for (int i = 0; i < 50; i++) {
        enum microvmi_status st = microvmi_listen(vm, 20000, ev);
        if (st != MICROVMI_OK)
            return st;
        if (ev->kind == kind)
            return MICROVMI_OK;
        fprintf(stderr, "note: unexpected %s event at %#" PRIx64 "\n",
                microvmi_event_kind_str(ev->kind), ev->rip);
        microvmi_reply(vm, ev, &(struct microvmi_reply){ 0 });
    }
    return MICROVMI_TIMEOUT;
}

/* Attach to a running QEMU, leave it stopped at our breakpoint with a
 * watchpoint set, and destroy: the caller checks the guest runs on. */
static int attach_and_leave(uint64_t tick, uint64_t cnt, char **argv)
{
    char qmp[600], gdb[600], mem[600];
    snprintf(qmp, sizeof qmp, "qmp=%s", argv[2]);
    snprintf(gdb, sizeof gdb, "gdb=%s", argv[3]);
    snprintf(mem, sizeof mem, "mem=%s", argv[4]);
    const char *params[] = { qmp, gdb, mem, NULL };
    microvmi_t *vm = NULL;
    char *err = NULL;
    if (microvmi_init("qemu", params, &vm, &err) != MICROVMI_OK) {
        fprintf(stderr, "FAIL: attach: %s\n", err);
        free(err);
        return 1;
    }
    struct microvmi_event ev;
    CHECK(microvmi_native_breakpoint(vm, MICROVMI_NATIVE_EXEC, tick, 1, true) == MICROVMI_OK,
          "Z0: %s", microvmi_last_error(vm));
    CHECK(wait_kind(vm, MICROVMI_EVENT_BREAKPOINT, &ev) == MICROVMI_OK && ev.rip == tick,
          "breakpoint: %s", microvmi_last_error(vm));
    CHECK(microvmi_native_breakpoint(vm, MICROVMI_NATIVE_WATCH_WRITE, cnt, 8, true) ==
              MICROVMI_OK, "Z2: %s", microvmi_last_error(vm));
    microvmi_destroy(vm); /* held event, breakpoint and watchpoint still in */
    return failures ? 1 : 0;
}

/* A 5 GiB q35 guest: RAM above 4 GiB is the file's tail (q35 keeps 2 GiB
 * below 4 GiB): a write at 4 GiB lands at file offset 2 GiB. */
static int above_4g(const char *elf)
{
    char kparam[600];
    snprintf(kparam, sizeof kparam, "kernel=%s", elf);
    const char *params[] = { "launch=1", kparam, "mem=5G", "machine=q35", "paused=1", NULL };
    microvmi_t *vm = NULL;
    char *err = NULL;
    if (microvmi_init("qemu", params, &vm, &err) != MICROVMI_OK) {
        fprintf(stderr, "FAIL: launch 5 GiB q35: %s\n", err);
        free(err);
        return 1;
    }
    uint64_t max_gfn = 0, magic = 0x6d6963726f766d69ull, back = 0;
    CHECK(microvmi_max_gfn(vm, &max_gfn) == MICROVMI_OK && max_gfn == (0x1c0000000ull >> 12) - 1,
          "max_gfn %#" PRIx64 " (want RAM up to 7 GiB)", max_gfn);
    uint8_t byte;
    CHECK(microvmi_read_physical(vm, 0x90000000ull, &byte, 1, NULL) ==
              MICROVMI_NO_MEMORY_AT_ADDRESS, "the PCI hole below 4 GiB is not RAM");
    CHECK(microvmi_write_physical(vm, 0x100000000ull, &magic, 8, NULL) == MICROVMI_OK,
          "write at 4 GiB: %s", microvmi_last_error(vm));
    uint64_t *tail = NULL, *low = NULL;
    CHECK(microvmi_map_physical(vm, 0x100000000ull, 8, false, (void **)&tail) == MICROVMI_OK &&
              microvmi_map_physical(vm, 0x7ffff000ull, 8, false, (void **)&low) == MICROVMI_OK,
          "map both sides of the split");
    if (tail && low)
        CHECK((uint8_t *)tail - (uint8_t *)low == 0x1000, "4 GiB is file offset 2 GiB");
    CHECK(microvmi_read_physical(vm, 0x100000000ull, &back, 8, NULL) == MICROVMI_OK && back == magic,
          "read back at 4 GiB");
    microvmi_destroy(vm);
    printf("%s\n", failures ? "FAILED" : "ok (above 4 GiB)");
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc != 2 && argc != 5) {
        fprintf(stderr, "usage: %s GUEST.elf\n", argv[0]);
        return 2;
    }
    if (system("command -v qemu-system-x86_64 >/dev/null 2>&1") != 0) {
        printf("skipped: qemu-system-x86_64 not installed (apt-get install qemu-system-x86)\n");
        return 77;
    }
    const char *elf = argv[1];
    uint64_t tick = sym(elf, "guest_tick"), cnt = sym(elf, "guest_counter"),
             buffer = sym(elf, "guest_buffer");
    if (!tick || !cnt || !buffer) {
        printf("skipped: %s has no guest symbols (build target microvmi_guest)\n", elf);
        return 77;
    }
    t0 = now_s();
    if (argc == 5)
        return attach_and_leave(tick, cnt, argv);
    if (getenv("QEMU_TEST_ABOVE_4G"))
        return above_4g(elf);
    char kparam[600];
    snprintf(kparam, sizeof kparam, "kernel=%s", elf);
    const char *params[] = { "launch=1", kparam, "mem=64M", NULL };
    microvmi_t *vm = NULL;
    char *err = NULL;
    enum microvmi_status st = microvmi_init("qemu", params, &vm, &err);
    if (st != MICROVMI_OK) {
        fprintf(stderr, "FAIL: microvmi_init: %s\n", err ? err : microvmi_status_str(st));
        free(err);
        return 1;
    }
    char info[2048] = "";
    pid_t qemu_pid = 0;
    CHECK(microvmi_describe(vm, info, sizeof info) == MICROVMI_OK, "describe");
    printf("%s", info);
    const char *pidp = strstr(info, "pid ");
    if (pidp)
        qemu_pid = (pid_t)atoi(pidp + 4);
    CHECK(strstr(info, "RAM file") != NULL, "describe names the RAM file");
    CHECK(qemu_pid > 0, "describe gives QEMU's pid");
    uint64_t caps = microvmi_capabilities(vm);
    CHECK((caps & MICROVMI_CAP_NATIVE_BREAKPOINT) && (caps & MICROVMI_CAP_NATIVE_WATCHPOINT) &&
              (caps & MICROVMI_CAP_NATIVE_SINGLESTEP) && (caps & MICROVMI_CAP_FOREIGN_MAPPING) &&
              !(caps & MICROVMI_CAP_EVENT_INT3) && !(caps & MICROVMI_CAP_EVENT_CR),
          "caps %#" PRIx64, caps);
    uint32_t n = 0;
    CHECK(microvmi_vcpu_count(vm, &n) == MICROVMI_OK && n == 1, "vcpu count %u", n);
    uint64_t max_gfn = 0;
    CHECK(microvmi_max_gfn(vm, &max_gfn) == MICROVMI_OK && max_gfn == (64u << 20) / 4096 - 1,
          "max_gfn %#" PRIx64, max_gfn);

    STEP("opened");
    /* The guest boots and ticks; we see it in its RAM file while it runs. */
    uint64_t c0 = 0;
    for (int i = 0; i < 300 && (c0 = counter(vm, cnt)) < 1000; i++)
        sleep_ms(100);
    MUST(c0 >= 1000, "guest_counter %" PRIu64 ": guest not ticking", c0);
    uint64_t *mapped = NULL;
    CHECK(microvmi_map_physical(vm, cnt, 8, false, (void **)&mapped) == MICROVMI_OK && mapped &&
              *mapped >= c0,
          "map_physical");
    uint8_t byte;
    CHECK(microvmi_read_physical(vm, 64u << 20, &byte, 1, NULL) == MICROVMI_NO_MEMORY_AT_ADDRESS,
          "read past RAM");

    STEP("guest ticks");
    /* pause / resume */
    MUST(microvmi_pause(vm) == MICROVMI_OK, "pause: %s", microvmi_last_error(vm));
    uint64_t p1 = counter(vm, cnt);
    sleep_ms(300);
    uint64_t p2 = counter(vm, cnt);
    CHECK(p1 == p2, "paused VM still counts: %" PRIu64 " -> %" PRIu64, p1, p2);
    struct microvmi_x86_regs regs;
    MUST(microvmi_read_registers(vm, 0, &regs) == MICROVMI_OK, "regs: %s", microvmi_last_error(vm));
    CHECK(regs.cr3 != 0 && (regs.cr0 & 0x80000001) == 0x80000001 && (regs.efer & 0x500) == 0x500,
          "cr0 %#" PRIx64 " cr3 %#" PRIx64 " efer %#" PRIx64, regs.cr0, regs.cr3, regs.efer);
    CHECK(regs.cs.selector == 0x08 && (regs.cs.attributes & 0x200), "cs %#x attr %#x",
          regs.cs.selector, regs.cs.attributes);
    CHECK(regs.gdtr.base != 0 && regs.idtr.limit == 256 * 16 - 1, "gdtr %#" PRIx64 " idtr limit %#x",
          regs.gdtr.base, regs.idtr.limit);
    CHECK((regs.present & (MICROVMI_REGS_GPR | MICROVMI_REGS_SEGMENTS | MICROVMI_REGS_CONTROL |
                           MICROVMI_REGS_DEBUG | MICROVMI_REGS_DTABLES | MICROVMI_REGS_FPU)) ==
              (MICROVMI_REGS_GPR | MICROVMI_REGS_SEGMENTS | MICROVMI_REGS_CONTROL |
               MICROVMI_REGS_DEBUG | MICROVMI_REGS_DTABLES | MICROVMI_REGS_FPU),
          "present %#x", regs.present);
    MUST(microvmi_resume(vm) == MICROVMI_OK, "resume: %s", microvmi_last_error(vm));
    sleep_ms(300);
    CHECK(counter(vm, cnt) > p2, "resumed VM does not count");

    STEP("pause/resume done");
    /* A native breakpoint on guest_tick. */
    MUST(microvmi_native_breakpoint(vm, MICROVMI_NATIVE_EXEC, tick, 1, true) == MICROVMI_OK,
         "Z0: %s", microvmi_last_error(vm));
    struct microvmi_event ev;
    MUST(wait_kind(vm, MICROVMI_EVENT_BREAKPOINT, &ev) == MICROVMI_OK, "no breakpoint event: %s",
         microvmi_last_error(vm));
    CHECK(ev.rip == tick && ev.u.breakpoint.address == tick && ev.vcpu == 0 && ev.cr3 != 0,
          "breakpoint at %#" PRIx64 " (want %#" PRIx64 ")", ev.rip, tick);
    uint64_t held1 = counter(vm, cnt);
    sleep_ms(200);
    CHECK(counter(vm, cnt) == held1, "VM runs while an event holds it");
    MUST(microvmi_read_registers(vm, 0, &regs) == MICROVMI_OK, "regs at bp");
    CHECK(regs.rip == tick, "rip %#" PRIx64, regs.rip);

    /* Register write round trip (then put it back). */
    uint64_t old_rax = regs.rax;
    struct microvmi_x86_regs w = regs;
    w.rax = 0x6d6963726f766d69ull;
    CHECK(microvmi_write_registers(vm, 0, &w) == MICROVMI_OK, "write regs: %s",
          microvmi_last_error(vm));
    CHECK(microvmi_read_registers(vm, 0, &regs) == MICROVMI_OK && regs.rax == w.rax,
          "rax after write %#" PRIx64, regs.rax);
    w.rax = old_rax;
    CHECK(microvmi_write_registers(vm, 0, &w) == MICROVMI_OK, "restore rax");
    w.gdtr.limit ^= 1;
    CHECK(microvmi_write_registers(vm, 0, &w) == MICROVMI_NOT_SUPPORTED, "gdtr write refused");

    STEP("breakpoint done");
    /* Single-step off the breakpoint, as the stub does it. */
    MUST(microvmi_pause(vm) == MICROVMI_OK, "pause at bp");
    CHECK(microvmi_reply(vm, &ev, &(struct microvmi_reply){ 0 }) == MICROVMI_OK, "reply: %s",
          microvmi_last_error(vm));
    CHECK(microvmi_native_breakpoint(vm, MICROVMI_NATIVE_EXEC, tick, 1, false) == MICROVMI_OK,
          "z0: %s", microvmi_last_error(vm));
    MUST(microvmi_native_step(vm, 0) == MICROVMI_OK, "step: %s", microvmi_last_error(vm));
    MUST(microvmi_resume(vm) == MICROVMI_OK, "resume to step");
    MUST(wait_kind(vm, MICROVMI_EVENT_SINGLESTEP, &ev) == MICROVMI_OK, "no singlestep: %s",
         microvmi_last_error(vm));
    CHECK(ev.rip > tick && ev.rip < tick + 16, "stepped to %#" PRIx64 " from %#" PRIx64, ev.rip,
          tick);
    CHECK(microvmi_reply(vm, &ev, &(struct microvmi_reply){ 0 }) == MICROVMI_OK, "reply step");

    STEP("step done");
    /* A write watchpoint on guest_counter. */
    MUST(microvmi_native_breakpoint(vm, MICROVMI_NATIVE_WATCH_WRITE, cnt, 8, true) == MICROVMI_OK,
         "Z2: %s", microvmi_last_error(vm));
    MUST(wait_kind(vm, MICROVMI_EVENT_WATCHPOINT, &ev) == MICROVMI_OK, "no watchpoint: %s",
         microvmi_last_error(vm));
    CHECK(ev.u.watchpoint.address == cnt && ev.u.watchpoint.access == MICROVMI_ACCESS_W,
          "watch %#" PRIx64, ev.u.watchpoint.address);
    CHECK(microvmi_native_breakpoint(vm, MICROVMI_NATIVE_WATCH_WRITE, cnt, 8, false) == MICROVMI_OK,
          "z2");
    CHECK(microvmi_reply(vm, &ev, &(struct microvmi_reply){ 0 }) == MICROVMI_OK, "reply watch");

    STEP("watchpoint done");
    /* interrupt() wakes a listener; a breakpoint set while running works too. */
    CHECK(microvmi_interrupt(vm) == MICROVMI_OK, "interrupt");
    CHECK(microvmi_listen(vm, 5000, &ev) == MICROVMI_INTERRUPTED, "listen after interrupt");
    CHECK(microvmi_listen(vm, 100, &ev) == MICROVMI_TIMEOUT, "quiet listen");
    uint64_t r1 = counter(vm, cnt);
    sleep_ms(300);
    CHECK(counter(vm, cnt) > r1, "guest stopped ticking after the events");
    CHECK(microvmi_event_fd(vm) >= 0, "event fd");
    STEP("events done");
out:
    microvmi_destroy(vm);
    if (qemu_pid > 0) {
        CHECK(kill(qemu_pid, 0) != 0 && errno == ESRCH, "QEMU (pid %d) still runs after destroy",
              (int)qemu_pid);
    }
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
