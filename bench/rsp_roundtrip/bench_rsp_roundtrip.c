/* bench_rsp_roundtrip: an rsp server thread and an rsp client in one process.
 *   round trips/s of "m1000,4" -> "<8 hex>" (ack mode, then no-ack mode),
 *   against a raw socket ping-pong of the same sizes on the same transport;
 *   MB/s of guest-memory payload for big 'm' reads end to end.
 * Figures are printed, never asserted. --quick: a tiny run (smoke test). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rsp.h"

#define MEM_SIZE (4u << 20)

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct server {
    struct rsp_listener *l;
    struct rsp_conn *conn;
    int stop[2];
    uint8_t *mem;
    pthread_t thread;
};

/* "mADDR,LEN" -> LEN bytes of mem as hex; QStartNoAckMode -> OK. */
static int on_packet(void *ctx, const struct rsp_event *ev)
{
    struct server *s = ctx;
    if (ev->kind != RSP_EV_PACKET)
        return 0;
    const char *p = (const char *)ev->data, *end = p + ev->len;
    uint64_t addr, len;
    if (rsp_has_prefix(p, ev->len, "QStartNoAckMode")) {
        rsp_conn_send_str(s->conn, "OK");
        rsp_conn_set_noack(s->conn, true);
    } else if (*p == 'm' && (p++, rsp_parse_hex_u64(&p, end, &addr)) &&
               rsp_parse_expect(&p, end, ',') && rsp_parse_hex_u64(&p, end, &len) &&
               addr < MEM_SIZE && len <= MEM_SIZE - addr) {
        struct rsp_buf *b = rsp_conn_begin_packet(s->conn);
        rsp_frame_put_hex(b, s->mem + addr, len);
        rsp_conn_end_packet(s->conn, 0);
    } else {
        rsp_conn_send_str(s->conn, "E01");
    }
    return 0;
}

static void *serve(void *arg)
{
    struct server *s = arg;
    char err[200];
    while (!s->conn) {
        struct pollfd p[2] = {{.fd = s->stop[0], .events = POLLIN},
                              {.fd = rsp_listener_fd(s->l), .events = POLLIN}};
        poll(p, 2, -1);
        if (p[0].revents)
            return NULL;
        struct rsp_conn_options o = {.max_payload = 4096};
        rsp_listener_accept(s->l, &o, &s->conn, err, sizeof err);
    }
    for (;;) {
        struct pollfd p[2] = {{.fd = s->stop[0], .events = POLLIN},
                              {.fd = rsp_conn_fd(s->conn), .events = POLLIN}};
        if (rsp_conn_wants_write(s->conn))
            p[1].events |= POLLOUT;
        if (poll(p, 2, -1) < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            break;
        enum rsp_status st = RSP_OK;
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR))
            st = rsp_conn_on_readable(s->conn, on_packet, s);
        if (st == RSP_OK && (p[1].revents & POLLOUT))
            st = rsp_conn_on_writable(s->conn);
        if (st != RSP_OK)
            break;
    }
    rsp_conn_close(s->conn);
    s->conn = NULL;
    return NULL;
}

/* Round trips per second of one small request over a client. */
static double rsp_rate(struct rsp_client *cli, double secs)
{
    struct rsp_buf r = RSP_BUF_INIT;
    size_t n = 0;
    double t0 = now(), t;
    do {
        for (int i = 0; i < 100; i++, n++)
            if (rsp_client_request_str(cli, "m1000,4", &r, 5000) != RSP_OK || r.len != 8) {
                fprintf(stderr, "request failed: %s\n", rsp_client_error(cli));
                rsp_buf_free(&r);
                return 0;
            }
    } while ((t = now() - t0) < secs);
    rsp_buf_free(&r);
    return (double)n / t;
}

static double read_rate(struct rsp_client *cli, size_t len, double secs, const uint8_t *mem)
{
    struct rsp_buf r = RSP_BUF_INIT;
    char req[64];
    snprintf(req, sizeof req, "m0,%zx", len);
    size_t n = 0;
    uint8_t *back = malloc(len);
    double t0 = now(), t;
    do {
        if (rsp_client_request_str(cli, req, &r, 10000) != RSP_OK || r.len != 2 * len ||
            !rsp_hex_decode(back, (const char *)r.data, len)) {
            fprintf(stderr, "read of %zu failed: %s\n", len, rsp_client_error(cli));
            n = 0;
            break;
        }
        n++;
    } while ((t = now() - t0) < secs);
    if (n && memcmp(back, mem, len) != 0)
        fprintf(stderr, "read of %zu returned wrong bytes\n", len);
    free(back);
    rsp_buf_free(&r);
    return n ? (double)(n * len) / t / 1e6 : 0;
}

/* Baseline: the same byte counts ping-ponged over a plain socket pair of
 * the same family, blocking I/O, no protocol. */
struct echo {
    int fd;
};

static void *echo_thread(void *arg)
{
    struct echo *e = arg;
    char buf[64];
    for (;;) {
        ssize_t n = read(e->fd, buf, 12); /* "$m1000,4#xx" + '+' ~ 12 bytes */
        if (n <= 0)
            break;
        if (write(e->fd, buf, 12) != 12)
            break;
    }
    return NULL;
}

/* A connected TCP pair over 127.0.0.1 with plain blocking sockets. */
static int tcp_pair(int sv[2])
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
        getsockname(l, (struct sockaddr *)&a, &al) < 0)
        return -1;
    sv[0] = socket(AF_INET, SOCK_STREAM, 0);
    if (sv[0] < 0 || connect(sv[0], (struct sockaddr *)&a, sizeof a) < 0)
        return -1;
    sv[1] = accept(l, NULL, NULL);
    close(l);
    setsockopt(sv[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(sv[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return sv[1] < 0 ? -1 : 0;
}

static double raw_rate(int family, double secs)
{
    int sv[2];
    if (family == AF_UNIX ? socketpair(AF_UNIX, SOCK_STREAM, 0, sv) : tcp_pair(sv))
        return 0;
    struct echo e = {.fd = sv[1]};
    pthread_t t;
    pthread_create(&t, NULL, echo_thread, &e);
    char buf[64] = "$m1000,4#fc";
    size_t n = 0;
    double t0 = now(), el;
    do {
        for (int i = 0; i < 100; i++, n++) {
            if (write(sv[0], buf, 12) != 12)
                goto out;
            size_t got = 0;
            while (got < 12) {
                ssize_t r = read(sv[0], buf + got, 12 - got);
                if (r <= 0)
                    goto out;
                got += (size_t)r;
            }
        }
    } while ((el = now() - t0) < secs);
out:
    el = now() - t0;
    shutdown(sv[0], SHUT_RDWR);
    pthread_join(t, NULL);
    close(sv[0]);
    close(sv[1]);
    return (double)n / el;
}

static int run(const char *spec, const char *label, int family, double secs, bool big,
               uint8_t *mem)
{
    struct server s = {.mem = mem};
    char err[256];
    if (rsp_listen(spec, &s.l, err, sizeof err) != RSP_OK) {
        printf("%-6s skipped: %s\n", label, err);
        return 0;
    }
    if (pipe(s.stop) < 0)
        return 1;
    pthread_create(&s.thread, NULL, serve, &s);
    struct rsp_conn_options o = {.max_payload = 2 * MEM_SIZE + 64};
    struct rsp_client *cli;
    if (rsp_client_connect(rsp_listener_address(s.l), 5000, &o, &cli, err, sizeof err) != RSP_OK) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    double raw = raw_rate(family, secs);
    double ack = rsp_rate(cli, secs);
    bool on = false;
    rsp_client_start_noack(cli, 5000, &on);
    double noack = on ? rsp_rate(cli, secs) : 0;
    printf("%-6s raw ping-pong %8.0f/s | rsp ack mode %8.0f/s (%.2f of raw) | "
           "no-ack %8.0f/s (%.2f of raw)\n",
           label, raw, ack, raw > 0 ? ack / raw : 0, noack, raw > 0 ? noack / raw : 0);
    if (big) {
        const size_t sizes[] = {4096, 65536, 1u << 20};
        printf("%-6s end-to-end 'm' reads (no-ack, hex decoded by the client):", label);
        for (int i = 0; i < 3; i++)
            printf(" %zu KiB %.0f MB/s%s", sizes[i] / 1024, read_rate(cli, sizes[i], secs, mem),
                   i < 2 ? "," : "\n");
    }
    int status = (ack > 0 && (!on || noack > 0)) ? 0 : 1;
    rsp_client_close(cli);
    if (write(s.stop[1], "x", 1) != 1)
        status = 1;
    pthread_join(s.thread, NULL);
    close(s.stop[0]);
    close(s.stop[1]);
    rsp_listener_close(s.l);
    return status;
}

/* The same client against QEMU's own gdbstub (what the qemu driver would
 * otherwise be limited to): small round trips and 1 MiB read in the largest
 * chunks its PacketSize allows. Skipped when QEMU is not installed. */
static void run_qemu(double secs)
{
    if (system("command -v qemu-system-x86_64 >/dev/null 2>&1") != 0) {
        printf("qemu   skipped: qemu-system-x86_64 not installed\n");
        return;
    }
    char sock[96], spec[110], gdbarg[140];
    snprintf(sock, sizeof sock, "/tmp/bench-rsp-qemu-%d.sock", (int)getpid());
    snprintf(spec, sizeof spec, "unix:%s", sock);
    snprintf(gdbarg, sizeof gdbarg, "unix:%s,server=on,wait=off", sock);
    unlink(sock);
    fflush(stdout); /* the child must not flush our buffered lines again */
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout))
            _exit(126);
        execlp("qemu-system-x86_64", "qemu-system-x86_64", "-nodefaults", "-display", "none", "-S",
               "-m", "64", "-machine", "pc", "-accel", "tcg", "-serial", "none", "-monitor",
               "none", "-gdb", gdbarg, (char *)NULL);
        _exit(127);
    }
    struct rsp_client *cli = NULL;
    char err[256] = "";
    for (int i = 0; i < 200 && !cli; i++) {
        if (rsp_client_connect(spec, 2000, NULL, &cli, err, sizeof err) != RSP_OK) {
            struct timespec ts = {0, 50 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    if (cli) {
        struct rsp_buf r = RSP_BUF_INIT;
        rsp_client_request_str(cli, "qSupported:multiprocess+", &r, 5000);
        bool noack = false;
        rsp_client_start_noack(cli, 5000, &noack);
        double rt = rsp_rate(cli, secs);
        /* QEMU answers at most PacketSize/2 bytes per 'm' */
        size_t chunk = 0x7f0, total = 1u << 20, n = 0;
        double t0 = now(), t;
        do {
            for (size_t off = 0; off < total; off += chunk) {
                char q[64];
                snprintf(q, sizeof q, "m%zx,%zx", 0x100000 + off, chunk);
                if (rsp_client_request_str(cli, q, &r, 5000) != RSP_OK || r.len != 2 * chunk) {
                    fprintf(stderr, "qemu read failed: %s\n", rsp_client_error(cli));
                    goto done;
                }
            }
            n++;
        } while ((t = now() - t0) < secs);
        printf("qemu   QEMU's gdbstub, same client (%s mode): %8.0f round trips/s, 1 MiB read in "
               "%zu-byte 'm' packets: %.1f MB/s\n",
               noack ? "no-ack" : "ack", rt, chunk, (double)(n * total) / t / 1e6);
    done:
        rsp_client_send(cli, "k", 1);
        rsp_buf_free(&r);
        rsp_client_close(cli);
    } else {
        printf("qemu   skipped: %s\n", err);
    }
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    unlink(sock);
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    double secs = quick ? 0.05 : 1.0;
    uint8_t *mem = malloc(MEM_SIZE);
    if (!mem)
        return 1;
    srand(3);
    for (size_t i = 0; i < MEM_SIZE; i++)
        mem[i] = (uint8_t)rand();
    printf("rsp loopback round trips (\"m1000,4\" -> 8 hex chars, one client, server thread)\n");
    char path[64];
    snprintf(path, sizeof path, "unix:/tmp/bench-rsp-%d.sock", (int)getpid());
    int status = run("127.0.0.1:0", "tcp", AF_INET, secs, true, mem);
    status |= run(path, "unix", AF_UNIX, secs, false, mem);
    if (!quick)
        run_qemu(secs);
    free(mem);
    return status;
}
