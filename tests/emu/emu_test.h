/* Helpers shared by the emu driver tests: the bundled guest's symbols (from
 * its ELF, with libelf), opening it in the emu driver, waiting for events. */
#ifndef TEST_EMU_H
#define TEST_EMU_H

#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "microvmi.h"

#define EMU_TEST_SKIP 77

static inline const char *guest_path(void)
{
    return MICROVMI_TEST_GUEST;
}

/* Exit 77 (ctest: skipped) when the guest was not built. */
static inline void require_guest(void)
{
    if (access(guest_path(), R_OK) != 0) {
        printf("skipped: the bundled guest %s is not built (target microvmi_guest)\n",
               guest_path());
        exit(EMU_TEST_SKIP);
    }
}

/* Address of a global symbol of the guest, or 0. */
static inline uint64_t sym(const char *name)
{
    uint64_t value = 0;
    int fd = open(guest_path(), O_RDONLY);
    if (fd < 0)
        return 0;
    elf_version(EV_CURRENT);
    Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
    Elf_Scn *scn = NULL;
    while (elf && !value && (scn = elf_nextscn(elf, scn))) {
        GElf_Shdr sh;
        if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB)
            continue;
        Elf_Data *data = elf_getdata(scn, NULL);
        size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
        for (size_t i = 0; data && i < n; i++) {
            GElf_Sym s;
            if (!gelf_getsym(data, (int)i, &s))
                continue;
            const char *nm = elf_strptr(elf, sh.sh_link, s.st_name);
            if (nm && strcmp(nm, name) == 0) {
                value = s.st_value;
                break;
            }
        }
    }
    if (elf)
        elf_end(elf);
    close(fd);
    return value;
}

/* Open the guest with vcpus=2 plus extra params (NULL-terminated). */
static inline microvmi_t *open_guest(const char *first, ...)
{
    const char *params[16];
    size_t n = 0;
    static char kernel[600];
    snprintf(kernel, sizeof kernel, "kernel=%s", guest_path());
    params[n++] = kernel;
    params[n++] = "vcpus=2";
    va_list ap;
    va_start(ap, first);
    for (const char *p = first; p && n < 15; p = va_arg(ap, const char *))
        params[n++] = p;
    va_end(ap);
    params[n] = NULL;
    microvmi_t *vm = NULL;
    char *err = NULL;
    if (microvmi_init("emu", params, &vm, &err) != MICROVMI_OK) {
        fprintf(stderr, "cannot open the emu driver: %s\n", err ? err : "?");
        free(err);
        return NULL;
    }
    return vm;
}

static inline uint64_t read_u64(microvmi_t *vm, uint64_t gpa)
{
    uint64_t v = 0;
    microvmi_read_physical(vm, gpa, &v, sizeof v, NULL);
    return v;
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Wait (up to seconds) until the u64 at gpa exceeds floor; returns its value. */
static inline uint64_t wait_above(microvmi_t *vm, uint64_t gpa, uint64_t floor, double seconds)
{
    double end = now_s() + seconds;
    uint64_t v;
    while ((v = read_u64(vm, gpa)) <= floor && now_s() < end)
        usleep(1000);
    return v;
}

/* Listen until an event of kind arrives (other kinds are answered with
 * CONTINUE); the event is returned unreplied. false on timeout. */
static inline bool wait_event(microvmi_t *vm, enum microvmi_event_kind kind,
                              struct microvmi_event *ev, double seconds)
{
    double end = now_s() + seconds;
    while (now_s() < end) {
        enum microvmi_status st = microvmi_listen(vm, 100, ev);
        if (st == MICROVMI_TIMEOUT)
            continue;
        if (st != MICROVMI_OK)
            return false;
        if (ev->kind == kind)
            return true;
        struct microvmi_reply r = {.flags = MICROVMI_RESPONSE_CONTINUE};
        microvmi_reply(vm, ev, &r);
    }
    return false;
}

static inline enum microvmi_status intercept(microvmi_t *vm, enum microvmi_event_kind kind,
                                             uint32_t index, bool on)
{
    struct microvmi_intercept what = {.kind = kind, .index = index};
    return microvmi_toggle_intercept(vm, MICROVMI_ALL_VCPUS, &what, on);
}

static inline enum microvmi_status reply_flags(microvmi_t *vm, const struct microvmi_event *ev,
                                               uint32_t flags)
{
    struct microvmi_reply r = {.flags = flags};
    return microvmi_reply(vm, ev, &r);
}

#endif
