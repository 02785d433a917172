/* Connecting to QEMU's sockets (QMP, gdbstub), with retries while QEMU starts. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sockutil.h"

int64_t qemu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int qemu_spec_is_unix(const char *spec)
{
    return spec[0] == '/' || spec[0] == '.' || strncmp(spec, "unix:", 5) == 0 ||
           !strchr(spec, ':');
}

static int try_unix(const char *path, int *fd)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -1;
    if (connect(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
        int e = errno;
        close(s);
        errno = e;
        return -1;
    }
    *fd = s;
    return 0;
}

static int try_tcp(const char *spec, int *fd, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    size_t hl = (size_t)(colon - spec);
    if (hl >= sizeof host) {
        errno = EINVAL;
        return -1;
    }
    memcpy(host, spec, hl);
    host[hl] = 0;
    char *h = host;
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h[hl - 1] = 0;
        h++;
    }
    if (!*h)
        h = "127.0.0.1";
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
    int rc = getaddrinfo(h, colon + 1, &hints, &res);
    if (rc) {
        snprintf(err, errlen, "cannot resolve %s: %s", spec, gai_strerror(rc));
        errno = EINVAL;
        return -2;
    }
    int result = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (s < 0)
            continue;
        if (connect(s, ai->ai_addr, ai->ai_addrlen) == 0) {
            int one = 1;
            setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            *fd = s;
            result = 0;
            break;
        }
        int e = errno;
        close(s);
        errno = e;
    }
    freeaddrinfo(res);
    return result;
}

enum microvmi_status qemu_sock_connect(const char *spec, int timeout_ms, int *fd, char *err,
                                       size_t errlen)
{
    *fd = -1;
    if (!spec || !*spec) {
        snprintf(err, errlen, "empty socket address");
        return MICROVMI_INVALID_ARG;
    }
    int unix_sock = qemu_spec_is_unix(spec);
    const char *path = strncmp(spec, "unix:", 5) == 0 ? spec + 5 : spec;
    int64_t deadline = qemu_now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
    for (;;) {
        int rc = unix_sock ? try_unix(path, fd) : try_tcp(spec, fd, err, errlen);
        if (rc == 0)
            break;
        if (rc == -2)
            return MICROVMI_INIT_FAILED;
        int e = errno;
        bool retry = e == ENOENT || e == ECONNREFUSED || e == EAGAIN;
        if (!retry || qemu_now_ms() >= deadline) {
            snprintf(err, errlen, "cannot connect to %s: %s", spec, strerror(e));
            return MICROVMI_INIT_FAILED;
        }
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    int fl = fcntl(*fd, F_GETFL);
    fcntl(*fd, F_SETFL, fl | O_NONBLOCK);
    return MICROVMI_OK;
}
