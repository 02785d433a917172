/*
 * A minimal QMP client for tests: start QEMU with a QMP socket, send one
 * command at a time, return its "return" member (json-c). Events are skipped.
 */
#ifndef TEST_QMP_H
#define TEST_QMP_H

#include <json-c/json.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct qmp {
    pid_t pid;
    int fd;
    FILE *in;
    char dir[64];
    char error[512];
};

static inline void qmp_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

/* One JSON line from QEMU, NULL on EOF. */
static inline json_object *qmp_read(struct qmp *q)
{
    char *line = NULL;
    size_t cap = 0;
    json_object *obj = NULL;
    while (!obj && getline(&line, &cap, q->in) > 0)
        obj = json_tokener_parse(line);
    free(line);
    return obj;
}

/* Send a command (JSON text); returns the "return" value (caller puts it),
 * or NULL with q->error set. */
static inline json_object *qmp_command(struct qmp *q, const char *json)
{
    size_t len = strlen(json);
    if (write(q->fd, json, len) != (ssize_t)len) {
        snprintf(q->error, sizeof q->error, "write to QMP failed");
        return NULL;
    }
    json_object *obj;
    while ((obj = qmp_read(q))) {
        json_object *ret, *err;
        if (json_object_object_get_ex(obj, "return", &ret)) {
            json_object_get(ret);
            json_object_put(obj);
            return ret;
        }
        if (json_object_object_get_ex(obj, "error", &err)) {
            snprintf(q->error, sizeof q->error, "%s: %s", json,
                     json_object_to_json_string(err));
            json_object_put(obj);
            return NULL;
        }
        json_object_put(obj); /* an event */
    }
    snprintf(q->error, sizeof q->error, "QEMU closed QMP during %s", json);
    return NULL;
}

static inline bool qmp_ok(struct qmp *q, const char *json)
{
    json_object *r = qmp_command(q, json);
    json_object_put(r);
    return r != NULL;
}

/* Start QEMU with extra args (NULL-terminated); false with q->error set. */
static inline bool qmp_start(struct qmp *q, const char *const *extra)
{
    memset(q, 0, sizeof *q);
    q->fd = -1;
    snprintf(q->dir, sizeof q->dir, "/tmp/microvmi-qemu-XXXXXX");
    if (!mkdtemp(q->dir)) {
        snprintf(q->error, sizeof q->error, "mkdtemp failed");
        return false;
    }
    char sock[96], qmparg[160];
    snprintf(sock, sizeof sock, "%s/qmp.sock", q->dir);
    snprintf(qmparg, sizeof qmparg, "unix:%s,server=on,wait=off", sock);
    const char *argv[64] = { "qemu-system-x86_64", "-machine", "pc,accel=tcg", "-display",
                             "none", "-nodefaults", "-no-user-config", "-qmp", qmparg };
    size_t n = 9;
    for (size_t i = 0; extra[i] && n < 62; i++)
        argv[n++] = extra[i];
    argv[n] = NULL;
    q->pid = fork();
    if (q->pid == 0) {
        char log[128];
        snprintf(log, sizeof log, "%s/qemu.err", q->dir);
        if (!freopen(log, "w", stderr) || !freopen("/dev/null", "w", stdout))
            _exit(126);
        execvp(argv[0], (char *const *)argv);
        _exit(127);
    }
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock);
    for (int tries = 0; tries < 300; tries++) { /* up to 30 s on a loaded machine */
        q->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (connect(q->fd, (struct sockaddr *)&addr, sizeof addr) == 0)
            break;
        close(q->fd);
        q->fd = -1;
        if (waitpid(q->pid, NULL, WNOHANG) == q->pid) {
            snprintf(q->error, sizeof q->error, "QEMU exited at start (see %s/qemu.err)", q->dir);
            q->pid = 0;
            return false;
        }
        qmp_sleep_ms(100);
    }
    if (q->fd < 0) {
        snprintf(q->error, sizeof q->error, "QEMU's QMP socket never came up");
        return false;
    }
    q->in = fdopen(dup(q->fd), "r");
    json_object *greeting = qmp_read(q);
    json_object_put(greeting);
    if (!greeting || !qmp_ok(q, "{\"execute\":\"qmp_capabilities\"}")) {
        snprintf(q->error, sizeof q->error, "no QMP greeting");
        return false;
    }
    return true;
}

static inline void qmp_stop(struct qmp *q)
{
    if (q->fd >= 0 && q->pid > 0)
        qmp_ok(q, "{\"execute\":\"quit\"}");
    if (q->in)
        fclose(q->in);
    if (q->fd >= 0)
        close(q->fd);
    if (q->pid > 0) {
        for (int i = 0; i < 50 && waitpid(q->pid, NULL, WNOHANG) == 0; i++)
            qmp_sleep_ms(100);
        if (kill(q->pid, 0) == 0) {
            kill(q->pid, SIGKILL);
            waitpid(q->pid, NULL, 0);
        }
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", q->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", q->dir);
}

#endif
