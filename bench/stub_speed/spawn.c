#include "spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool stub_proc_start(struct stub_proc *p, const char *bin, const char *const *extra)
{
    snprintf(p->log, sizeof p->log, "/tmp/bench-stub-%d.log", (int)getpid());
    const char *argv[32] = { bin, "--listen", "127.0.0.1:0", "--once" };
    int n = 4;
    for (int i = 0; extra && extra[i] && n < 31; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    p->pid = fork();
    if (p->pid < 0)
        return false;
    if (p->pid == 0) {
        int fd = open(p->log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, 2);
            dup2(fd, 1);
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    for (int i = 0; i < 600; i++) {
        FILE *f = fopen(p->log, "r");
        char line[512];
        while (f && fgets(line, sizeof line, f)) {
            const char *at = strstr(line, "listening on ");
            if (at) {
                sscanf(at + strlen("listening on "), "%127s", p->addr);
                fclose(f);
                return true;
            }
        }
        if (f)
            fclose(f);
        if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
            p->pid = -1;
            return false;
        }
        usleep(100 * 1000);
    }
    return false;
}

void stub_proc_stop(struct stub_proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        waitpid(p->pid, NULL, 0);
        p->pid = -1;
    }
    unlink(p->log);
}

int run_cmd(const char *cmdline)
{
    int st = system(cmdline);
    return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
