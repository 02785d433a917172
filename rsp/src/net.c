/* Socket plumbing for TCP (v4/v6) and unix stream sockets. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "net.h"
#include "rsp_internal.h"

void rsp_net_nodelay(int fd)
{
    int one = 1;
    /* Fails harmlessly on unix sockets. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int rsp_net_describe(int fd, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return -1;
    char host[INET6_ADDRSTRLEN] = "";
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        snprintf(out, outlen, "%s:%u", host, ntohs(a->sin_port));
        return ntohs(a->sin_port);
    }
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        snprintf(out, outlen, "[%s]:%u", host, ntohs(a->sin6_port));
        return ntohs(a->sin6_port);
    }
    return 0;
}

static int listen_unix(const struct rsp_spec *s, char *err, size_t errlen)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    snprintf(sun.sun_path, sizeof sun.sun_path, "%s", s->path);
    struct stat st;
    if (lstat(s->path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            rsp_set_err(err, errlen, "unix:%s exists and is not a socket; choose another path",
                        s->path);
            return -1;
        }
        /* A live server answers a connect; only a stale socket file is replaced. */
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sun, sizeof sun) == 0) {
            close(probe);
            rsp_set_err(err, errlen, "unix:%s: another server is listening there", s->path);
            return -1;
        }
        if (probe >= 0)
            close(probe);
        unlink(s->path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof sun) < 0 || listen(fd, 4) < 0) {
        rsp_set_err(err, errlen, "listen on unix:%s: %s", s->path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int listen_tcp(const struct rsp_spec *s, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(s->host, s->port, &hints, &res);
    if (rc != 0) {
        rsp_set_err(err, errlen, "listen on %s:%s: %s", s->host, s->port, gai_strerror(rc));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            saved = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ai->ai_family == AF_INET6) /* "[::]" means v6 only; ask for 0.0.0.0 for v4 */
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 4) == 0)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        rsp_set_err(err, errlen, "listen on %s:%s: %s%s", s->host, s->port, strerror(saved),
                    saved == EADDRINUSE ? " (pick another port, or 0 for any free one)" : "");
    return fd;
}

int rsp_net_listen(const struct rsp_spec *s, char *err, size_t errlen)
{
    return s->kind == RSP_SPEC_UNIX ? listen_unix(s, err, errlen) : listen_tcp(s, err, errlen);
}

/* Non-blocking connect bounded by a deadline. */
static int connect_one(int family, int proto, const struct sockaddr *sa, socklen_t sl,
                       int64_t deadline, int *errout)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, proto);
    if (fd < 0) {
        *errout = errno;
        return -1;
    }
    if (connect(fd, sa, sl) == 0)
        return fd;
    if (errno != EINPROGRESS && errno != EAGAIN) {
        *errout = errno;
        close(fd);
        return -1;
    }
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int r = poll(&p, 1, rsp_remaining_ms(deadline));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            *errout = r == 0 ? ETIMEDOUT : errno;
            close(fd);
            return -1;
        }
        break;
    }
    int soerr = 0;
    socklen_t el = sizeof soerr;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el);
    if (soerr) {
        *errout = soerr;
        close(fd);
        return -1;
    }
    return fd;
}

int rsp_net_connect(const struct rsp_spec *s, int timeout_ms, char *err, size_t errlen)
{
    int64_t deadline = rsp_deadline(timeout_ms);
    int saved = 0, fd = -1;
    if (s->kind == RSP_SPEC_UNIX) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        snprintf(sun.sun_path, sizeof sun.sun_path, "%s", s->path);
        fd = connect_one(AF_UNIX, 0, (struct sockaddr *)&sun, sizeof sun, deadline, &saved);
        if (fd < 0) {
            rsp_set_err(err, errlen, "connect to unix:%s: %s", s->path, strerror(saved));
            errno = saved;
        }
        return fd;
    }
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(s->host, s->port, &hints, &res);
    if (rc != 0) {
        rsp_set_err(err, errlen, "connect to %s:%s: %s", s->host, s->port, gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = connect_one(ai->ai_family, ai->ai_protocol, ai->ai_addr, ai->ai_addrlen, deadline,
                         &saved);
    freeaddrinfo(res);
    if (fd < 0) {
        rsp_set_err(err, errlen, "connect to %s:%s: %s", s->host, s->port, strerror(saved));
        errno = saved;
    } else
        rsp_net_nodelay(fd);
    return fd;
}
