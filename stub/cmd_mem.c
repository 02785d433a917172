/* m M X: guest memory, through the selected vCPU's address space, or
 * guest-physical after `monitor phys on`. */
#include "args.h"
#include "stub.h"

#include <stdlib.h>
#include <string.h>

/* Largest m we answer at once: gdb accepts a shorter reply and asks again. */
#define STUB_MAX_M 0x20000u

static enum microvmi_status mem_read(struct stub *s, uint64_t addr, void *buf, size_t len,
                                     size_t *done)
{
    *done = 0;
    if (s->phys)
        return microvmi_read_physical(s->vm, addr, buf, len, done);
    struct microvmi_address_space as;
    enum microvmi_status st = stub_address_space(s, s->g_vcpu, &as);
    if (st != MICROVMI_OK)
        return st;
    return microvmi_read_virtual(s->vm, &as, addr, buf, len, done);
}

static enum microvmi_status mem_write(struct stub *s, uint64_t addr, const void *buf,
                                      size_t len, size_t *done)
{
    *done = 0;
    if (s->phys)
        return microvmi_write_physical(s->vm, addr, buf, len, done);
    struct microvmi_address_space as;
    enum microvmi_status st = stub_address_space(s, s->g_vcpu, &as);
    if (st != MICROVMI_OK)
        return st;
    return microvmi_write_virtual(s->vm, &as, addr, buf, len, done);
}

static uint8_t *scratch(struct stub *s, size_t len)
{
    if (s->membuf_cap < len) {
        uint8_t *p = realloc(s->membuf, len);
        if (!p)
            return NULL;
        s->membuf = p;
        s->membuf_cap = len;
    }
    return s->membuf;
}

/* Mask breakpoints we planted, so gdb sees the guest's own bytes. */
static void mask_planted(struct stub *s, uint64_t addr, uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < s->nswbps; i++) {
        const struct stub_swbp *bp = &s->swbps[i];
        uint64_t at = s->phys ? bp->gpa : bp->addr;
        if (bp->planted && at >= addr && at - addr < len)
            buf[at - addr] = bp->orig;
    }
}

enum stub_hr stub_cmd_m(struct stub *s, const char *a, size_t n)
{
    uint64_t addr, len;
    if (!stub_parse_addr_len(a, n, &addr, &len)) {
        stub_reply_error(s, 22);
        return STUB_HR_REPLY;
    }
    if (len > STUB_MAX_M)
        len = STUB_MAX_M;
    if (addr + len < addr)
        len = 0 - addr; /* stop at the top of the address space */
    if (len == 0)
        return STUB_HR_REPLY;
    uint8_t *buf = scratch(s, (size_t)len);
    if (!buf) {
        stub_reply_error(s, 12);
        return STUB_HR_REPLY;
    }
    size_t done = 0;
    mem_read(s, addr, buf, (size_t)len, &done);
    if (done == 0) {
        stub_log(s, 2, "m %llx: %s", (unsigned long long)addr, microvmi_last_error(s->vm));
        stub_reply_error(s, 14); /* EFAULT: gdb says "Cannot access memory" */
        return STUB_HR_REPLY;
    }
    mask_planted(s, addr, buf, done);
    /* Hex straight into the output frame: no intermediate copy. */
    struct rsp_buf *out = rsp_conn_begin_packet(s->conn);
    if (!out) {
        stub_reply_error(s, 12);
        return STUB_HR_REPLY;
    }
    rsp_frame_put_hex(out, buf, done);
    if (s->verbose >= 2)
        stub_log(s, 2, "-> [%zu bytes of memory]", done);
    rsp_conn_end_packet(s->conn, 0);
    return STUB_HR_NONE;
}

static enum stub_hr write_reply(struct stub *s, uint64_t addr, const uint8_t *data, size_t len)
{
    size_t done = 0;
    enum microvmi_status st = len ? mem_write(s, addr, data, len, &done) : MICROVMI_OK;
    if (len)
        stub_swbp_after_write(s, addr, done);
    if (st != MICROVMI_OK) {
        stub_log(s, 1, "write %llx: %s", (unsigned long long)addr, microvmi_last_error(s->vm));
        stub_reply_error(s, 14);
    } else {
        stub_reply_str(s, "OK");
    }
    return STUB_HR_REPLY;
}

enum stub_hr stub_cmd_M(struct stub *s, const char *a, size_t n)
{
    uint64_t addr, len;
    const char *data;
    size_t dlen;
    if (!stub_parse_addr_len_data(a, n, &addr, &len, &data, &dlen) || dlen != 2 * len ||
        addr + len < addr) {
        stub_reply_error(s, 22);
        return STUB_HR_REPLY;
    }
    uint8_t *buf = scratch(s, (size_t)len ? (size_t)len : 1);
    if (!buf) {
        stub_reply_error(s, 12);
        return STUB_HR_REPLY;
    }
    if (!stub_hex_decode(data, dlen, buf, (size_t)len)) {
        stub_reply_error(s, 22);
        return STUB_HR_REPLY;
    }
    return write_reply(s, addr, buf, (size_t)len);
}

enum stub_hr stub_cmd_X(struct stub *s, const char *a, size_t n)
{
    uint64_t addr, len;
    const char *data;
    size_t dlen;
    /* The decoder already undid '}' escapes: dlen must equal len. */
    if (!stub_parse_addr_len_data(a, n, &addr, &len, &data, &dlen) || dlen != len ||
        addr + len < addr) {
        stub_reply_error(s, 22);
        return STUB_HR_REPLY;
    }
    return write_reply(s, addr, (const uint8_t *)data, (size_t)len);
}
