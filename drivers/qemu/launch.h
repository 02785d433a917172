/* Starting QEMU ourselves (launch=1): the command line, a private directory
 * for the sockets, the RAM file and the logs, and a clean end. */
#ifndef MICROVMI_QEMU_LAUNCH_H
#define MICROVMI_QEMU_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "microvmi.h"

struct qemu_launch_opts {
    const char *qemu;      /* binary; default qemu-system-x86_64 */
    const char *kernel, *initrd, *append;
    const char *memfile;   /* RAM file to use; default DIR/ram (in /dev/shm when it exists) */
    uint64_t mem_size;     /* bytes */
    unsigned smp;
    const char *accel;     /* tcg | kvm */
    const char *machine;   /* pc | q35 */
    const char *cpu;       /* -cpu model or NULL */
    const char *serial;    /* file for the guest's console; default DIR/serial.log */
    bool paused;           /* -S: start stopped */
};

struct qemu_launch {
    pid_t pid;
    char dir[256];
    char qmp[300], gdb[300], memfile[512], serial[512], log[300];
    bool own_memfile;
};

/* Build argv into a malloc'd NULL-terminated array of malloc'd strings. */
char **qemu_launch_argv(const struct qemu_launch_opts *o, const struct qemu_launch *l);
void qemu_launch_argv_free(char **argv);

enum microvmi_status qemu_launch_start(const struct qemu_launch_opts *o, struct qemu_launch *l,
                                       char *err, size_t errlen);
/* The last lines of QEMU's own stderr (why it failed to start). */
void qemu_launch_log_tail(const struct qemu_launch *l, char *buf, size_t len);
/* True while the child runs. */
bool qemu_launch_alive(struct qemu_launch *l);
/* Wait up to timeout_ms for the child, then kill it; remove the directory. */
void qemu_launch_reap(struct qemu_launch *l, int timeout_ms);

#endif
