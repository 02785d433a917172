/* The RSP conversation with QEMU's gdbstub: connect, target description,
 * requests while stopped, resume/interrupt, registers, physical memory. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gdbchan.h"
#include "sockutil.h"

#define REQ_TIMEOUT_MS 10000
/* QEMU 7.2 advertises PacketSize=1000 (hex): keep m/M well inside it. */
#define PHYS_CHUNK 1024

static bool is_hex(char c) { return rsp_hex_digit((unsigned char)c) >= 0; }

bool qgdb_parse_stop(const char *p, size_t len, struct qgdb_stop *out)
{
    memset(out, 0, sizeof *out);
    out->thread = -1;
    if (len < 3 || !is_hex(p[1]) || !is_hex(p[2]))
        return false;
    char k = p[0];
    if (k != 'T' && k != 'S' && k != 'W' && k != 'X')
        return false;
    out->kind = k == 'S' ? 'T' : k;
    out->signal = (uint8_t)(rsp_hex_digit(p[1]) << 4 | rsp_hex_digit(p[2]));
    if (k != 'T')
        return true;
    const char *s = p + 3, *end = p + len;
    while (s < end) {
        const char *semi = memchr(s, ';', (size_t)(end - s));
        const char *e = semi ? semi : end;
        const char *colon = memchr(s, ':', (size_t)(e - s));
        if (colon) {
            size_t kl = (size_t)(colon - s);
            const char *v = colon + 1;
            if (kl == 6 && !memcmp(s, "thread", 6)) {
                int64_t t;
                if (rsp_parse_thread_id(&v, e, &t))
                    out->thread = t;
            } else if ((kl == 5 && !memcmp(s, "watch", 5)) || (kl == 6 && !memcmp(s, "rwatch", 6)) ||
                       (kl == 6 && !memcmp(s, "awatch", 6))) {
                uint64_t a;
                if (rsp_parse_hex_u64(&v, e, &a)) {
                    out->watch = true;
                    out->watch_addr = a;
                    out->watch_access = s[0] == 'w' ? MICROVMI_ACCESS_W
                                        : s[0] == 'r' ? MICROVMI_ACCESS_R
                                                      : MICROVMI_ACCESS_RW;
                }
            } else if (kl == 7 && !memcmp(s, "swbreak", 7)) {
                out->swbreak = true;
            } else if (kl == 7 && !memcmp(s, "hwbreak", 7)) {
                out->hwbreak = true;
            }
        }
        s = semi ? semi + 1 : end;
    }
    return true;
}

static enum microvmi_status fail(struct qgdb *g, enum microvmi_status st, const char *what,
                                 enum rsp_status rs)
{
    if (rs == RSP_ERR_CLOSED)
        g->gone = true;
    snprintf(g->err, sizeof g->err, "QEMU gdbstub: %s: %s (%s)", what, rsp_status_str(rs),
             g->cli ? rsp_client_error(g->cli) : "not connected");
    return rs == RSP_ERR_CLOSED ? MICROVMI_VM_GONE : rs == RSP_ERR_TIMEOUT ? MICROVMI_TIMEOUT : st;
}

static bool note_stop(struct qgdb *g)
{
    struct qgdb_stop s;
    if (!qgdb_parse_stop((const char *)g->reply.data, g->reply.len, &s))
        return false;
    g->have_stop = true;
    g->stop = s;
    if (s.kind == 'W' || s.kind == 'X')
        g->gone = true;
    return true;
}

enum microvmi_status qgdb_request(struct qgdb *g, const char *payload, size_t len, int timeout_ms)
{
    if (g->gone)
        return MICROVMI_VM_GONE;
    if (g->running) {
        snprintf(g->err, sizeof g->err, "QEMU gdbstub: request while the VM runs (internal)");
        return MICROVMI_BAD_STATE;
    }
    int64_t deadline = qemu_now_ms() + timeout_ms;
    enum rsp_status rs = rsp_client_request(g->cli, payload, len, &g->reply, timeout_ms);
    /* A stop reply is never the answer to a request we send while stopped. */
    while (rs == RSP_OK && note_stop(g)) {
        if (g->gone)
            return fail(g, MICROVMI_VM_GONE, "request", RSP_ERR_CLOSED);
        int left = (int)(deadline - qemu_now_ms());
        rs = rsp_client_wait_stop(g->cli, &g->reply, left > 0 ? left : 0);
    }
    if (rs != RSP_OK)
        return fail(g, MICROVMI_IO_ERROR, "request", rs);
    return MICROVMI_OK;
}

enum microvmi_status qgdb_request_str(struct qgdb *g, const char *payload, int timeout_ms)
{
    return qgdb_request(g, payload, strlen(payload), timeout_ms);
}

enum microvmi_status qgdb_request_ok(struct qgdb *g, const char *payload, int timeout_ms)
{
    enum microvmi_status st = qgdb_request_str(g, payload, timeout_ms);
    if (st != MICROVMI_OK)
        return st;
    if (g->reply.len == 2 && !memcmp(g->reply.data, "OK", 2))
        return MICROVMI_OK;
    snprintf(g->err, sizeof g->err, "QEMU gdbstub refused \"%.40s\": \"%.40s\"", payload,
             g->reply.len ? (const char *)g->reply.data : "(not supported)");
    return g->reply.len ? MICROVMI_INVALID_ARG : MICROVMI_NOT_SUPPORTED;
}

static enum microvmi_status read_xfer(struct qgdb *g, const char *annex, char **out, size_t *outlen)
{
    size_t len = 0, cap = 0;
    char *text = NULL;
    for (int guard = 0; guard < 256; guard++) {
        char req[160];
        snprintf(req, sizeof req, "qXfer:features:read:%s:%zx,%x", annex, len, 0x7f0);
        enum microvmi_status st = qgdb_request_str(g, req, REQ_TIMEOUT_MS);
        if (st != MICROVMI_OK) {
            free(text);
            return st;
        }
        const char *r = (const char *)g->reply.data;
        if (g->reply.len < 1 || (r[0] != 'l' && r[0] != 'm')) {
            free(text);
            snprintf(g->err, sizeof g->err, "QEMU gdbstub: no target description %s (%.20s)",
                     annex, r);
            return MICROVMI_NOT_SUPPORTED;
        }
        size_t n = g->reply.len - 1;
        if (len + n + 1 > cap) {
            cap = (len + n + 1) * 2;
            char *t = realloc(text, cap);
            if (!t) {
                free(text);
                return MICROVMI_OUT_OF_MEMORY;
            }
            text = t;
        }
        memcpy(text + len, r + 1, n);
        len += n;
        text[len] = 0;
        if (r[0] == 'l' || n == 0)
            break;
    }
    *out = text;
    *outlen = len;
    return MICROVMI_OK;
}

static enum microvmi_status load_tdesc(struct qgdb *g)
{
    memset(&g->tdesc, 0, sizeof g->tdesc);
    char done[TDESC_MAX_INCLUDES + 1][64];
    size_t ndone = 0;
    const char *annex = "target.xml";
    for (;;) {
        char *xml = NULL;
        size_t len = 0;
        enum microvmi_status st = read_xfer(g, annex, &xml, &len);
        if (st != MICROVMI_OK)
            return st;
        snprintf(done[ndone++], sizeof done[0], "%s", annex);
        tdesc_parse_xml(&g->tdesc, xml, len);
        free(xml);
        /* next include not read yet */
        annex = NULL;
        for (size_t i = 0; i < g->tdesc.nincludes && !annex; i++) {
            bool seen = false;
            for (size_t j = 0; j < ndone; j++)
                seen |= !strcmp(done[j], g->tdesc.includes[i]);
            if (!seen)
                annex = g->tdesc.includes[i];
        }
        if (!annex || ndone > TDESC_MAX_INCLUDES)
            break;
    }
    tdesc_finish(&g->tdesc);
    return MICROVMI_OK;
}

enum microvmi_status qgdb_open(struct qgdb *g, const char *spec, int timeout_ms)
{
    memset(g, 0, sizeof *g);
    g->g_thread = -1;
    char full[512];
    if (strncmp(spec, "unix:", 5) && qemu_spec_is_unix(spec))
        snprintf(full, sizeof full, "unix:%s", spec);
    else
        snprintf(full, sizeof full, "%s", spec);
    struct rsp_conn_options opts = { .max_payload = 1u << 20 };
    char err[200] = "";
    int64_t deadline = qemu_now_ms() + timeout_ms;
    enum rsp_status rs;
    /* QEMU may still be creating its socket: retry a refused connect. */
    for (;;) {
        rs = rsp_client_connect(full, 2000, &opts, &g->cli, err, sizeof err);
        if (rs == RSP_OK || qemu_now_ms() >= deadline || rs == RSP_ERR_INVALID_ARG)
            break;
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    if (rs != RSP_OK) {
        snprintf(g->err, sizeof g->err,
                 "cannot connect to QEMU's gdbstub at %s: %s (start QEMU with -gdb tcp:HOST:PORT "
                 "or -chardev socket,path=...,server=on,wait=off,id=g -gdb chardev:g)",
                 spec, err);
        return MICROVMI_INIT_FAILED;
    }
    enum microvmi_status st = qgdb_request_str(g, "qSupported:swbreak+;hwbreak+;vContSupported+",
                                               timeout_ms);
    if (st != MICROVMI_OK) {
        snprintf(g->err, sizeof g->err,
                 "QEMU's gdbstub at %s does not answer (is another debugger attached?)", spec);
        return MICROVMI_INIT_FAILED;
    }
    rsp_client_start_noack(g->cli, REQ_TIMEOUT_MS, &g->noack);
    /* Where we are: stopped (QEMU stopped the VM when we connected). */
    rs = rsp_client_request_str(g->cli, "?", &g->reply, REQ_TIMEOUT_MS);
    if (rs != RSP_OK)
        return fail(g, MICROVMI_INIT_FAILED, "?", rs);
    g->have_stop = false;
    g->running = false;
    st = load_tdesc(g);
    if (st != MICROVMI_OK)
        return st;
    st = qgdb_request_str(g, "g", REQ_TIMEOUT_MS);
    if (st != MICROVMI_OK)
        return st;
    g->g_len = g->reply.len / 2;
    if (!tdesc_find(&g->tdesc, "rip") || !tdesc_find(&g->tdesc, "cr3")) {
        snprintf(g->err, sizeof g->err,
                 "QEMU's gdbstub describes no x86-64 registers with cr3 (QEMU older than 7.2, or "
                 "not qemu-system-x86_64?)");
        return MICROVMI_INIT_FAILED;
    }
    return MICROVMI_OK;
}

void qgdb_close(struct qgdb *g)
{
    rsp_client_close(g->cli);
    g->cli = NULL;
    rsp_buf_free(&g->reply);
}

void qgdb_detach_close(struct qgdb *g)
{
    if (g->cli && !g->gone) {
        struct qgdb_stop s;
        if (!g->running || qgdb_interrupt(g, 3000, &s) == MICROVMI_OK) {
            if (g->phys_mode)
                qgdb_request_str(g, "Qqemu.PhyMemMode:0", 2000);
            qgdb_request_str(g, "D", 3000);
        }
    }
    qgdb_close(g);
}

int qgdb_fd(const struct qgdb *g) { return g->cli ? rsp_client_fd(g->cli) : -1; }

enum microvmi_status qgdb_resume(struct qgdb *g, const char *vcont)
{
    if (g->gone)
        return MICROVMI_VM_GONE;
    g->have_stop = false;
    enum rsp_status rs = rsp_client_send(g->cli, vcont, strlen(vcont));
    if (rs != RSP_OK)
        return fail(g, MICROVMI_IO_ERROR, "resume", rs);
    g->running = true;
    g->g_thread = -1; /* QEMU selects the stopping vCPU on stop */
    return MICROVMI_OK;
}

enum microvmi_status qgdb_wait_stop(struct qgdb *g, int timeout_ms, struct qgdb_stop *stop)
{
    if (g->gone)
        return MICROVMI_VM_GONE;
    for (;;) {
        enum rsp_status rs = rsp_client_wait_stop(g->cli, &g->reply, timeout_ms);
        if (rs == RSP_ERR_TIMEOUT)
            return MICROVMI_TIMEOUT;
        if (rs != RSP_OK)
            return fail(g, MICROVMI_IO_ERROR, "wait for stop", rs);
        if (note_stop(g)) {
            *stop = g->stop;
            g->have_stop = false;
            g->running = false;
            /* QEMU makes the vCPU that stopped the one `g` reads (its
             * gdb_vm_state_change sets g_cpu): no Hg needed for it. */
            if (stop->thread > 0)
                g->g_thread = stop->thread;
            return MICROVMI_OK;
        }
        /* anything else (a stray reply) is dropped */
    }
}

enum microvmi_status qgdb_interrupt(struct qgdb *g, int timeout_ms, struct qgdb_stop *stop)
{
    if (!g->running)
        return MICROVMI_OK;
    enum rsp_status rs = rsp_client_interrupt(g->cli);
    if (rs != RSP_OK)
        return fail(g, MICROVMI_IO_ERROR, "interrupt", rs);
    enum microvmi_status st = qgdb_wait_stop(g, timeout_ms, stop);
    if (st == MICROVMI_TIMEOUT)
        snprintf(g->err, sizeof g->err, "QEMU gdbstub did not stop the VM within %d ms", timeout_ms);
    return st;
}

static enum microvmi_status select_thread(struct qgdb *g, int64_t thread)
{
    if (g->g_thread == thread)
        return MICROVMI_OK;
    char req[32];
    snprintf(req, sizeof req, "Hg%" PRIx64, (uint64_t)thread);
    enum microvmi_status st = qgdb_request_ok(g, req, REQ_TIMEOUT_MS);
    if (st == MICROVMI_OK)
        g->g_thread = thread;
    return st;
}

enum microvmi_status qgdb_read_g(struct qgdb *g, int64_t thread, uint8_t *buf)
{
    enum microvmi_status st = select_thread(g, thread);
    if (st == MICROVMI_OK)
        st = qgdb_request_str(g, "g", REQ_TIMEOUT_MS);
    if (st != MICROVMI_OK)
        return st;
    if (g->reply.len != 2 * g->g_len ||
        !rsp_hex_decode(buf, (const char *)g->reply.data, g->g_len)) {
        snprintf(g->err, sizeof g->err, "QEMU gdbstub: bad register reply (%zu chars)", g->reply.len);
        return MICROVMI_IO_ERROR;
    }
    return MICROVMI_OK;
}

enum microvmi_status qgdb_write_reg(struct qgdb *g, int64_t thread, uint32_t regnum,
                                    const void *bytes, size_t len)
{
    enum microvmi_status st = select_thread(g, thread);
    if (st != MICROVMI_OK)
        return st;
    char req[64 + 2 * 64];
    if (len > 64)
        return MICROVMI_INVALID_ARG;
    int n = snprintf(req, sizeof req, "P%x=", regnum);
    rsp_hex_encode(req + n, bytes, len);
    req[n + 2 * len] = 0;
    return qgdb_request_ok(g, req, REQ_TIMEOUT_MS);
}

static enum microvmi_status phys_mode(struct qgdb *g)
{
    if (g->phys_mode)
        return MICROVMI_OK;
    enum microvmi_status st = qgdb_request_ok(g, "Qqemu.PhyMemMode:1", REQ_TIMEOUT_MS);
    if (st == MICROVMI_OK)
        g->phys_mode = true;
    return st;
}

enum microvmi_status qgdb_read_phys(struct qgdb *g, uint64_t gpa, void *buf, size_t len)
{
    enum microvmi_status st = phys_mode(g);
    for (size_t done = 0; st == MICROVMI_OK && done < len;) {
        size_t n = len - done < PHYS_CHUNK ? len - done : PHYS_CHUNK;
        char req[64];
        snprintf(req, sizeof req, "m%" PRIx64 ",%zx", gpa + done, n);
        st = qgdb_request_str(g, req, REQ_TIMEOUT_MS);
        if (st != MICROVMI_OK)
            break;
        if (g->reply.len != 2 * n ||
            !rsp_hex_decode((uint8_t *)buf + done, (const char *)g->reply.data, n))
            return MICROVMI_NO_MEMORY_AT_ADDRESS;
        done += n;
    }
    return st;
}

enum microvmi_status qgdb_write_phys(struct qgdb *g, uint64_t gpa, const void *buf, size_t len)
{
    enum microvmi_status st = phys_mode(g);
    char *req = malloc(64 + 2 * PHYS_CHUNK);
    if (!req)
        return MICROVMI_OUT_OF_MEMORY;
    for (size_t done = 0; st == MICROVMI_OK && done < len;) {
        size_t n = len - done < PHYS_CHUNK ? len - done : PHYS_CHUNK;
        int h = snprintf(req, 64, "M%" PRIx64 ",%zx:", gpa + done, n);
        rsp_hex_encode(req + h, (const uint8_t *)buf + done, n);
        req[h + 2 * n] = 0;
        st = qgdb_request_ok(g, req, REQ_TIMEOUT_MS);
        if (st == MICROVMI_INVALID_ARG)
            st = MICROVMI_NO_MEMORY_AT_ADDRESS;
        done += n;
    }
    free(req);
    return st;
}
