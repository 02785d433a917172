/* QEMU as a child process. Everything it needs lives in one private
 * directory, so several launched VMs never collide and nothing is left
 * behind: QMP and gdbstub unix sockets, the RAM file (unless the user gave
 * one), QEMU's stderr and the guest console. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launch.h"
#include "sockutil.h"

extern char **environ;

struct argv_builder {
    char **v;
    size_t n, cap;
    bool failed;
};

static void add(struct argv_builder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct argv_builder *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    if (b->n + 2 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 32;
        char **v = realloc(b->v, cap * sizeof *v);
        if (!v) {
            b->failed = true;
            return;
        }
        b->v = v;
        b->cap = cap;
    }
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    if (vasprintf(&s, fmt, ap) < 0)
        s = NULL;
    va_end(ap);
    if (!s) {
        b->failed = true;
        return;
    }
    b->v[b->n++] = s;
    b->v[b->n] = NULL;
}

void qemu_launch_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **p = argv; *p; p++)
        free(*p);
    free(argv);
}

char **qemu_launch_argv(const struct qemu_launch_opts *o, const struct qemu_launch *l)
{
    struct argv_builder b = { 0 };
    uint64_t mib = o->mem_size >> 20;
    add(&b, "%s", o->qemu && *o->qemu ? o->qemu : "qemu-system-x86_64");
    add(&b, "-name");
    add(&b, "microvmi");
    add(&b, "-machine");
    add(&b, "%s,memory-backend=ram0", o->machine && *o->machine ? o->machine : "pc");
    add(&b, "-accel");
    add(&b, "%s", o->accel && *o->accel ? o->accel : "tcg");
    if (o->cpu && *o->cpu) {
        add(&b, "-cpu");
        add(&b, "%s", o->cpu);
    }
    add(&b, "-m");
    add(&b, "%lluM", (unsigned long long)mib);
    add(&b, "-object");
    add(&b, "memory-backend-file,id=ram0,size=%lluM,mem-path=%s,share=on", (unsigned long long)mib,
        l->memfile);
    add(&b, "-smp");
    add(&b, "%u", o->smp ? o->smp : 1);
    add(&b, "-display");
    add(&b, "none");
    add(&b, "-nodefaults");
    add(&b, "-no-user-config");
    add(&b, "-no-reboot");
    add(&b, "-serial");
    add(&b, "file:%s", l->serial);
    add(&b, "-qmp");
    add(&b, "unix:%s,server=on,wait=off", l->qmp);
    add(&b, "-chardev");
    add(&b, "socket,id=microvmi-gdb,path=%s,server=on,wait=off", l->gdb);
    add(&b, "-gdb");
    add(&b, "chardev:microvmi-gdb");
    if (o->kernel && *o->kernel) {
        add(&b, "-kernel");
        add(&b, "%s", o->kernel);
    }
    if (o->initrd && *o->initrd) {
        add(&b, "-initrd");
        add(&b, "%s", o->initrd);
    }
    if (o->append && *o->append) {
        add(&b, "-append");
        add(&b, "%s", o->append);
    }
    if (o->paused)
        add(&b, "-S");
    if (b.failed) {
        qemu_launch_argv_free(b.v);
        return NULL;
    }
    return b.v;
}

static bool make_dir(struct qemu_launch *l)
{
    const char *bases[] = { getenv("XDG_RUNTIME_DIR"), "/dev/shm", getenv("TMPDIR"), "/tmp" };
    for (size_t i = 0; i < sizeof bases / sizeof bases[0]; i++) {
        if (!bases[i] || !*bases[i] || access(bases[i], W_OK))
            continue;
        /* unix socket paths are limited to ~107 bytes */
        if (strlen(bases[i]) > 60)
            continue;
        snprintf(l->dir, sizeof l->dir, "%s/microvmi-qemu-XXXXXX", bases[i]);
        if (mkdtemp(l->dir))
            return true;
    }
    return false;
}

static void rm_dir(struct qemu_launch *l)
{
    if (!l->dir[0])
        return;
    const char *files[] = { l->qmp, l->gdb, l->log, l->own_memfile ? l->memfile : NULL };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        if (files[i] && files[i][0])
            unlink(files[i]);
    char serial_default[300];
    snprintf(serial_default, sizeof serial_default, "%s/serial.log", l->dir);
    if (!strcmp(l->serial, serial_default))
        unlink(l->serial);
    rmdir(l->dir);
    l->dir[0] = 0;
}

enum microvmi_status qemu_launch_start(const struct qemu_launch_opts *o, struct qemu_launch *l,
                                       char *err, size_t errlen)
{
    memset(l, 0, sizeof *l);
    l->pid = -1;
    if (!o->kernel || !*o->kernel) {
        snprintf(err, errlen, "launch=1 needs kernel=PATH (a bzImage/vmlinuz or a PVH ELF)");
        return MICROVMI_INVALID_ARG;
    }
    if (access(o->kernel, R_OK)) {
        snprintf(err, errlen, "kernel=%s: %s", o->kernel, strerror(errno));
        return MICROVMI_INVALID_ARG;
    }
    if (o->initrd && *o->initrd && access(o->initrd, R_OK)) {
        snprintf(err, errlen, "initrd=%s: %s", o->initrd, strerror(errno));
        return MICROVMI_INVALID_ARG;
    }
    if (!make_dir(l)) {
        snprintf(err, errlen, "cannot create a private directory in /dev/shm or /tmp: %s",
                 strerror(errno));
        return MICROVMI_IO_ERROR;
    }
    snprintf(l->qmp, sizeof l->qmp, "%s/qmp.sock", l->dir);
    snprintf(l->gdb, sizeof l->gdb, "%s/gdb.sock", l->dir);
    snprintf(l->log, sizeof l->log, "%s/qemu.log", l->dir);
    if (o->serial && *o->serial)
        snprintf(l->serial, sizeof l->serial, "%s", o->serial);
    else
        snprintf(l->serial, sizeof l->serial, "%s/serial.log", l->dir);
    if (o->memfile && *o->memfile) {
        snprintf(l->memfile, sizeof l->memfile, "%s", o->memfile);
    } else {
        snprintf(l->memfile, sizeof l->memfile, "%s/ram", l->dir);
        l->own_memfile = true;
    }
    char **argv = qemu_launch_argv(o, l);
    if (!argv) {
        rm_dir(l);
        return MICROVMI_OUT_OF_MEMORY;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, l->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    /* Its own process group: a Ctrl-C meant for the stub does not kill QEMU
     * before the stub has detached cleanly. */
    posix_spawnattr_setpgroup(&attr, 0);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK);
    int rc = posix_spawnp(&l->pid, argv[0], &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc) {
        snprintf(err, errlen, "cannot run %s: %s (apt-get install qemu-system-x86, or qemu=PATH)",
                 argv[0], strerror(rc));
        qemu_launch_argv_free(argv);
        l->pid = -1;
        rm_dir(l);
        return MICROVMI_INIT_FAILED;
    }
    qemu_launch_argv_free(argv);
    return MICROVMI_OK;
}

void qemu_launch_log_tail(const struct qemu_launch *l, char *buf, size_t len)
{
    buf[0] = 0;
    FILE *f = fopen(l->log, "r");
    if (!f)
        return;
    char tmp[4096];
    size_t n = fread(tmp, 1, sizeof tmp - 1, f);
    fclose(f);
    tmp[n] = 0;
    while (n && (tmp[n - 1] == '\n' || tmp[n - 1] == ' '))
        tmp[--n] = 0;
    const char *start = n + 1 > len ? tmp + n + 1 - len : tmp;
    snprintf(buf, len, "%s", start);
    for (char *p = buf; *p; p++)
        if (*p == '\n')
            *p = ' ';
}

bool qemu_launch_alive(struct qemu_launch *l)
{
    if (l->pid <= 0)
        return false;
    int status;
    pid_t r = waitpid(l->pid, &status, WNOHANG);
    if (r == l->pid) {
        l->pid = -1;
        return false;
    }
    return r == 0;
}

void qemu_launch_reap(struct qemu_launch *l, int timeout_ms)
{
    if (l->pid > 0) {
        int64_t deadline = qemu_now_ms() + timeout_ms;
        bool sent_term = false;
        while (qemu_launch_alive(l)) {
            int64_t now = qemu_now_ms();
            if (now >= deadline && !sent_term) {
                kill(l->pid, SIGTERM);
                sent_term = true;
                deadline = now + 2000;
            } else if (now >= deadline) {
                kill(l->pid, SIGKILL);
                waitpid(l->pid, NULL, 0);
                l->pid = -1;
                break;
            }
            struct timespec ts = { 0, 10 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    rm_dir(l);
}
