/* g G p P: registers of the selected vCPU (Hg), in target.xml's order. */
#include "args.h"
#include "regs.h"
#include "stub.h"

#include <string.h>

static bool read_regs(struct stub *s, struct microvmi_x86_regs *r)
{
    memset(r, 0, sizeof *r);
    enum microvmi_status st = microvmi_read_registers(s->vm, s->g_vcpu, r);
    if (st != MICROVMI_OK) {
        stub_log(s, 1, "read_registers vCPU %u: %s", s->g_vcpu, microvmi_last_error(s->vm));
        return false;
    }
    return true;
}

static void put_reg(struct stub *s, const struct microvmi_x86_regs *r, size_t i)
{
    uint8_t bytes[STUB_REG_MAX_BYTES];
    size_t n = stub_reg_desc(i)->bits / 8;
    if (stub_reg_get(r, i, bytes)) {
        uint8_t *t = rsp_buf_tail(&s->reply, 2 * n);
        if (t) {
            rsp_hex_encode((char *)t, bytes, n);
            rsp_buf_commit(&s->reply, 2 * n);
        }
    } else {
        for (size_t k = 0; k < 2 * n; k++)
            rsp_buf_append(&s->reply, "x", 1); /* gdb shows <unavailable> */
    }
}

enum stub_hr stub_cmd_g(struct stub *s, const char *a, size_t n)
{
    (void)a; (void)n;
    struct microvmi_x86_regs r;
    if (!read_regs(s, &r)) {
        stub_reply_error(s, 14);
        return STUB_HR_REPLY;
    }
    for (size_t i = 0; i < STUB_REG_COUNT; i++)
        put_reg(s, &r, i);
    return STUB_HR_REPLY;
}

static enum stub_hr write_back(struct stub *s, struct microvmi_x86_regs *r, uint32_t groups)
{
    r->present = groups;
    if (microvmi_write_registers(s->vm, s->g_vcpu, r) != MICROVMI_OK) {
        stub_log(s, 1, "write_registers: %s", microvmi_last_error(s->vm));
        stub_reply_error(s, 14);
    } else {
        stub_reply_str(s, "OK");
    }
    return STUB_HR_REPLY;
}

enum stub_hr stub_cmd_G(struct stub *s, const char *a, size_t n)
{
    struct microvmi_x86_regs r;
    if (!read_regs(s, &r)) {
        stub_reply_error(s, 14);
        return STUB_HR_REPLY;
    }
    uint32_t present = r.present, groups = 0;
    size_t off = 0;
    for (size_t i = 0; i < STUB_REG_COUNT && off < n; i++) {
        size_t bytes = stub_reg_desc(i)->bits / 8;
        if (off + 2 * bytes > n)
            break;
        uint8_t val[STUB_REG_MAX_BYTES], old[STUB_REG_MAX_BYTES];
        bool avail = stub_reg_get(&r, i, old);
        /* 'x' (unavailable) or bad hex leaves the register alone */
        if (stub_hex_decode(a + off, 2 * bytes, val, bytes) && avail &&
            memcmp(val, old, bytes) != 0)
            groups |= stub_reg_set(&r, i, val);
        off += 2 * bytes;
    }
    if (off != n) {
        stub_reply_error(s, 22);
        return STUB_HR_REPLY;
    }
    if (!groups) {
        stub_reply_str(s, "OK");
        return STUB_HR_REPLY;
    }
    return write_back(s, &r, groups & present);
}

enum stub_hr stub_cmd_p(struct stub *s, const char *a, size_t n)
{
    uint64_t regnum;
    if (!stub_parse_p(a, n, &regnum)) {
        stub_reply_error(s, 22);
        return STUB_HR_REPLY;
    }
    if (regnum >= STUB_REG_COUNT)
        return STUB_HR_REPLY; /* empty: gdb then knows we lack it */
    struct microvmi_x86_regs r;
    if (!read_regs(s, &r)) {
        stub_reply_error(s, 14);
        return STUB_HR_REPLY;
    }
    put_reg(s, &r, (size_t)regnum);
    return STUB_HR_REPLY;
}

enum stub_hr stub_cmd_P(struct stub *s, const char *a, size_t n)
{
    uint64_t regnum;
    uint8_t val[STUB_REG_MAX_BYTES];
    size_t vlen;
    if (!stub_parse_P(a, n, &regnum, val, sizeof val, &vlen) || regnum >= STUB_REG_COUNT ||
        vlen != stub_reg_desc((size_t)regnum)->bits / 8u) {
        stub_reply_error(s, 22);
        return STUB_HR_REPLY;
    }
    struct microvmi_x86_regs r;
    if (!read_regs(s, &r)) {
        stub_reply_error(s, 14);
        return STUB_HR_REPLY;
    }
    uint8_t old[STUB_REG_MAX_BYTES];
    if (!stub_reg_get(&r, (size_t)regnum, old)) {
        stub_reply_error(s, 14); /* the driver cannot read, so cannot write it */
        return STUB_HR_REPLY;
    }
    uint32_t group = stub_reg_set(&r, (size_t)regnum, val);
    return write_back(s, &r, group);
}
