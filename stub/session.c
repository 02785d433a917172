/* The event loop: one poll() over the listening socket, the client, the
 * driver's event fd and a signalfd. States: detached (no client; the VM runs
 * and events pass through), stopped (serving packets; the VM is paused),
 * running (waiting for a driver event or 0x03). */
#include "stub.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

void stub_log(const struct stub *s, int level, const char *fmt, ...)
{
    if (s->verbose < level)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("microvmi-gdbstub: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int on_rsp_event(void *ctx, const struct rsp_event *ev)
{
    struct stub *s = ctx;
    switch (ev->kind) {
    case RSP_EV_PACKET:
        if (s->verbose >= 1) {
            size_t show = ev->len < 200 ? ev->len : 200;
            stub_log(s, 1, "<- %.*s%s", (int)show, (const char *)ev->data,
                     show < ev->len ? "..." : "");
        }
        if (s->state == STUB_RUNNING) {
            /* all-stop: only 0x03 is expected while running */
            stub_send_packet_str(s, "E10");
        } else {
            stub_dispatch(s, (const char *)ev->data, ev->len);
        }
        break;
    case RSP_EV_INTERRUPT:
        stub_log(s, 1, "<- 0x03");
        if (s->state == STUB_RUNNING)
            stub_stop_and_report(s, s->last_stop_vcpu, 2, NULL);
        break;
    case RSP_EV_OVERSIZED:
    case RSP_EV_MALFORMED:
        stub_log(s, 1, "<- %s packet dropped", rsp_event_kind_str(ev->kind));
        if (s->state != STUB_RUNNING)
            stub_send_packet_str(s, "E16");
        break;
    default:
        break;
    }
    return s->close_client ? 1 : 0;
}

static void attach_client(struct stub *s, struct rsp_conn *conn)
{
    s->conn = conn;
    s->close_client = false;
    s->state = STUB_STOPPED;
    stub_pause_vm(s);
    stub_drain_events(s);
    s->g_vcpu = s->c_vcpu = s->last_stop_vcpu = 0;
    s->phys = false;
    s->cr3filter_on = false;
    stub_log(s, 0, "client attached; VM paused");
}

static void drop_client(struct stub *s, const char *why)
{
    if (s->state != STUB_DETACHED)
        stub_cleanup(s);
    s->state = STUB_DETACHED;
    if (s->conn) {
        rsp_conn_flush(s->conn, 1000);
        rsp_conn_close(s->conn);
        s->conn = NULL;
    }
    stub_log(s, 0, "client left (%s); guest restored and running%s", why,
             s->opt->once ? "" : ", waiting for the next");
    if (s->opt->once || s->opt->listen == STUB_LISTEN_STDIO)
        s->quit = true;
}

static void pump_events(struct stub *s)
{
    struct microvmi_event ev;
    /* Bounded so the client is never starved by a stream of events. */
    for (int i = 0; i < 256 && s->state != STUB_STOPPED && !s->vm_gone; i++) {
        enum microvmi_status st = microvmi_listen(s->vm, 0, &ev);
        if (st == MICROVMI_VM_GONE) {
            s->vm_gone = true;
            break;
        }
        if (st != MICROVMI_OK)
            break;
        stub_on_event(s, &ev);
    }
    if (s->vm_gone) {
        stub_log(s, 0, "the VM went away");
        if (s->conn && s->state == STUB_RUNNING)
            stub_send_packet_str(s, "W00");
        s->quit = true;
    }
}

static int make_signalfd(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int stub_serve(struct stub *s)
{
    int sfd = make_signalfd();
    int efd = microvmi_event_fd(s->vm);
    /* Drivers without any event (a memory dump) are never polled. */
    const uint64_t event_caps = MICROVMI_CAP_EVENT_CR | MICROVMI_CAP_EVENT_XCR |
        MICROVMI_CAP_EVENT_DR | MICROVMI_CAP_EVENT_MSR | MICROVMI_CAP_EVENT_SINGLESTEP |
        MICROVMI_CAP_EVENT_INT3 | MICROVMI_CAP_EVENT_EXCEPTION | MICROVMI_CAP_EVENT_DESCRIPTOR |
        MICROVMI_CAP_EVENT_HYPERCALL | MICROVMI_CAP_EVENT_CPUID | MICROVMI_CAP_EVENT_MEMORY |
        MICROVMI_CAP_NATIVE_BREAKPOINT | MICROVMI_CAP_NATIVE_HW_BREAKPOINT |
        MICROVMI_CAP_NATIVE_WATCHPOINT | MICROVMI_CAP_NATIVE_SINGLESTEP;
    bool polls = (s->caps & event_caps) != 0;
    while (!s->quit) {
        struct pollfd fds[5];
        int nfds = 0, i_listen = -1, i_conn = -1, i_wr = -1, i_ev = -1, i_sig = -1;
        int lfd = s->listener ? rsp_listener_fd(s->listener) : -1;
        if (!s->conn && s->opt->listen == STUB_LISTEN_STDIO) {
            struct rsp_conn *c = NULL;
            char err[256];
            if (rsp_listener_accept(s->listener, NULL, &c, err, sizeof err) == RSP_OK)
                attach_client(s, c);
            else
                s->quit = true;
            continue;
        }
        if (lfd >= 0) {
            i_listen = nfds;
            fds[nfds++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
        }
        if (s->conn) {
            i_conn = nfds;
            fds[nfds++] = (struct pollfd){ .fd = rsp_conn_fd(s->conn), .events = POLLIN };
            if (rsp_conn_wants_write(s->conn)) {
                i_wr = nfds;
                fds[nfds++] = (struct pollfd){ .fd = rsp_conn_write_fd(s->conn), .events = POLLOUT };
            }
        }
        if (efd >= 0 && s->state != STUB_STOPPED) {
            i_ev = nfds;
            fds[nfds++] = (struct pollfd){ .fd = efd, .events = POLLIN };
        }
        if (sfd >= 0) {
            i_sig = nfds;
            fds[nfds++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
        }
        int timeout = (polls && efd < 0 && s->state != STUB_STOPPED) ? 5 : -1;
        int r = poll(fds, (nfds_t)nfds, timeout);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            stub_log(s, 0, "poll: %s", strerror(errno));
            break;
        }
        if (i_sig >= 0 && (fds[i_sig].revents & POLLIN)) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
                stub_log(s, 0, "signal %u: cleaning up and exiting", si.ssi_signo);
                if (s->conn && s->state == STUB_RUNNING)
                    stub_send_packet_str(s, "X0f"); /* tell gdb the target is gone */
                s->quit = true;
                break;
            }
        }
        if (i_wr >= 0 && (fds[i_wr].revents & (POLLOUT | POLLERR | POLLHUP)) && s->conn) {
            if (rsp_conn_on_writable(s->conn) != RSP_OK) {
                drop_client(s, "write failed");
                continue;
            }
        }
        if (i_conn >= 0 && (fds[i_conn].revents & (POLLIN | POLLERR | POLLHUP)) && s->conn) {
            enum rsp_status st = rsp_conn_on_readable(s->conn, on_rsp_event, s);
            if (s->close_client) {
                drop_client(s, "detach or kill");
                continue;
            }
            if (st != RSP_OK && st != RSP_ERR_AGAIN) {
                drop_client(s, st == RSP_ERR_CLOSED ? "disconnected" : rsp_status_str(st));
                continue;
            }
        }
        if ((i_ev >= 0 && (fds[i_ev].revents & POLLIN)) ||
            (polls && efd < 0 && s->state != STUB_STOPPED))
            pump_events(s);
        if (i_listen >= 0 && (fds[i_listen].revents & POLLIN)) {
            if (s->conn) {
                rsp_listener_refuse(s->listener, "microvmi-gdbstub already serves a client");
            } else {
                struct rsp_conn *c = NULL;
                char err[256];
                if (rsp_listener_accept(s->listener, NULL, &c, err, sizeof err) == RSP_OK)
                    attach_client(s, c);
            }
        }
    }
    if (sfd >= 0)
        close(sfd);
    if (s->conn) {
        if (s->state != STUB_DETACHED)
            stub_cleanup(s);
        rsp_conn_flush(s->conn, 500);
        rsp_conn_close(s->conn);
        s->conn = NULL;
    } else if (!s->vm_gone) {
        stub_cleanup(s);
    }
    s->state = STUB_DETACHED;
    return 0;
}
