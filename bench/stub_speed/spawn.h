/* Start microvmi-gdbstub on a free port and find out where it listens. */
#ifndef BENCH_STUB_SPAWN_H
#define BENCH_STUB_SPAWN_H

#include <stdbool.h>
#include <sys/types.h>

struct stub_proc {
    pid_t pid;
    char addr[128];
    char log[256];
};

/* extra: NULL-terminated extra arguments (e.g. --param mem=128M). */
bool stub_proc_start(struct stub_proc *p, const char *bin, const char *const *extra);
void stub_proc_stop(struct stub_proc *p);
double now_s(void);
/* Run a shell command line, return its exit status (-1 if it could not run). */
int run_cmd(const char *cmdline);

#endif
