/* QEMU's gdbstub as the qemu driver's register and event channel (an RSP
 * client in all-stop mode). While the VM runs the connection is "running":
 * QEMU stops the VM on any byte it receives, so nothing but a deliberate
 * 0x03 may be sent until a stop reply has come. */
#ifndef MICROVMI_QEMU_GDBCHAN_H
#define MICROVMI_QEMU_GDBCHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "microvmi.h"
#include "rsp.h"
#include "tdesc.h"

/* A decoded stop reply (T/S/W/X). */
struct qgdb_stop {
    char kind;           /* 'T' (or 'S'), 'W' exited, 'X' killed */
    uint8_t signal;      /* T/S/X: signal; W: exit status */
    int64_t thread;      /* T with thread:, else -1 */
    bool watch;          /* T with watch/rwatch/awatch */
    enum microvmi_access watch_access;
    uint64_t watch_addr;
    bool swbreak, hwbreak;
};

/* Parse one stop-reply payload. False if it is not a stop reply. */
bool qgdb_parse_stop(const char *p, size_t len, struct qgdb_stop *out);

struct qgdb {
    struct rsp_client *cli;
    struct rsp_buf reply;
    struct tdesc tdesc;
    size_t g_len;          /* bytes in a `g` reply */
    bool running;          /* RSP state: a stop reply is owed to us */
    bool gone;             /* the connection closed */
    bool phys_mode;        /* Qqemu.PhyMemMode:1 sent */
    int64_t g_thread;      /* thread selected with Hg, -1 unknown */
    bool noack;
    /* A stop reply that arrived while a request waited (QEMU sends one when
     * the VM stops for a reason of its own, e.g. on connect). */
    bool have_stop;
    struct qgdb_stop stop;
    char err[512];
};

/* Connect (spec as rsp_client_connect, or a unix path), negotiate, read the
 * target description and the `g` size. QEMU stops the VM when a debugger
 * connects: on return the VM is stopped (running == false). */
enum microvmi_status qgdb_open(struct qgdb *g, const char *spec, int timeout_ms);
/* Remove nothing, just leave: "D" (QEMU then drops all breakpoints and
 * resumes the VM) and close. */
void qgdb_detach_close(struct qgdb *g);
void qgdb_close(struct qgdb *g);
int qgdb_fd(const struct qgdb *g);

/* A request while stopped: its reply (in g->reply, NUL-terminated). Stop
 * replies that arrive meanwhile are kept in g->stop. */
enum microvmi_status qgdb_request(struct qgdb *g, const char *payload, size_t len, int timeout_ms);
enum microvmi_status qgdb_request_str(struct qgdb *g, const char *payload, int timeout_ms);
/* An "OK"/"E.." request; INVALID_ARG with QEMU's error text otherwise. */
enum microvmi_status qgdb_request_ok(struct qgdb *g, const char *payload, int timeout_ms);

/* Resume with a vCont action string ("vCont;c", "vCont;s:1"). */
enum microvmi_status qgdb_resume(struct qgdb *g, const char *vcont);
/* Wait for the stop reply owed while running. TIMEOUT when none yet. */
enum microvmi_status qgdb_wait_stop(struct qgdb *g, int timeout_ms, struct qgdb_stop *stop);
/* Running -> stopped: 0x03 and wait for the stop reply (which may be a
 * breakpoint that won the race: *stop says which). */
enum microvmi_status qgdb_interrupt(struct qgdb *g, int timeout_ms, struct qgdb_stop *stop);

/* Registers of one thread (vCPU n is thread n+1) into buf (g_len bytes). */
enum microvmi_status qgdb_read_g(struct qgdb *g, int64_t thread, uint8_t *buf);
enum microvmi_status qgdb_write_reg(struct qgdb *g, int64_t thread, uint32_t regnum,
                                    const void *bytes, size_t len);

/* Physical memory through the stub (slow path; needs the VM stopped). */
enum microvmi_status qgdb_read_phys(struct qgdb *g, uint64_t gpa, void *buf, size_t len);
enum microvmi_status qgdb_write_phys(struct qgdb *g, uint64_t gpa, const void *buf, size_t len);

#endif
