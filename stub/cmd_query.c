/* qSupported, QStartNoAckMode, threads (H T qC qfThreadInfo qsThreadInfo
 * qThreadExtraInfo), qAttached. */
#include "args.h"
#include "stub.h"

#include <inttypes.h>
#include <string.h>

enum stub_hr stub_cmd_qSupported(struct stub *s, const char *a, size_t n)
{
    (void)a; (void)n;
    /* Derived from what the driver can do; PacketSize is our decoder bound. */
    stub_reply_printf(s, "PacketSize=%zx;QStartNoAckMode+;qXfer:features:read+;"
                         "qXfer:threads:read+;vContSupported+",
                      s->conn ? rsp_conn_max_payload(s->conn) : (size_t)RSP_DEFAULT_MAX_PAYLOAD);
    if ((s->caps & MICROVMI_CAP_EVENT_INT3) || (s->caps & MICROVMI_CAP_NATIVE_BREAKPOINT))
        stub_reply_str(s, ";swbreak+");
    if (((s->caps & MICROVMI_CAP_EVENT_EXCEPTION) && (s->caps & MICROVMI_CAP_WRITE_REGISTERS)) ||
        (s->caps & MICROVMI_CAP_NATIVE_HW_BREAKPOINT))
        stub_reply_str(s, ";hwbreak+");
    return STUB_HR_REPLY;
}

enum stub_hr stub_cmd_noack(struct stub *s, const char *a, size_t n)
{
    (void)a; (void)n;
    /* OK goes out in ack mode; only then do both sides drop acks. */
    stub_send_packet_str(s, "OK");
    rsp_conn_set_noack(s->conn, true);
    return STUB_HR_NONE;
}

enum stub_hr stub_cmd_H(struct stub *s, const char *a, size_t n)
{
    if (n < 2 || (a[0] != 'g' && a[0] != 'c')) {
        stub_reply_error(s, 22);
        return STUB_HR_REPLY;
    }
    struct stub_cursor c = { a + 1, a + n };
    int64_t tid;
    if (!stub_parse_tid(&c, &tid) || c.p != c.end) {
        stub_reply_error(s, 22);
        return STUB_HR_REPLY;
    }
    uint32_t v = s->last_stop_vcpu;
    if (tid != STUB_TID_ALL && tid != STUB_TID_ANY && !stub_tid_to_vcpu(s, tid, &v)) {
        stub_reply_error(s, 2);
        return STUB_HR_REPLY;
    }
    if (a[0] == 'g')
        s->g_vcpu = v;
    else
        s->c_vcpu = v;
    stub_reply_str(s, "OK");
    return STUB_HR_REPLY;
}

enum stub_hr stub_cmd_T(struct stub *s, const char *a, size_t n)
{
    struct stub_cursor c = { a, a + n };
    int64_t tid;
    uint32_t v;
    if (stub_parse_tid(&c, &tid) && c.p == c.end && stub_tid_to_vcpu(s, tid, &v))
        stub_reply_str(s, "OK");
    else
        stub_reply_error(s, 2);
    return STUB_HR_REPLY;
}

enum stub_hr stub_cmd_qC(struct stub *s, const char *a, size_t n)
{
    (void)a; (void)n;
    stub_reply_printf(s, "QC%x", s->g_vcpu + 1);
    return STUB_HR_REPLY;
}

enum stub_hr stub_cmd_qfThreadInfo(struct stub *s, const char *a, size_t n)
{
    (void)a; (void)n;
    stub_reply_str(s, "m");
    for (uint32_t v = 0; v < s->nvcpus; v++)
        stub_reply_printf(s, v ? ",%x" : "%x", v + 1);
    return STUB_HR_REPLY;
}

enum stub_hr stub_cmd_qsThreadInfo(struct stub *s, const char *a, size_t n)
{
    (void)a; (void)n;
    stub_reply_str(s, "l");
    return STUB_HR_REPLY;
}

enum stub_hr stub_cmd_qThreadExtraInfo(struct stub *s, const char *a, size_t n)
{
    struct stub_cursor c = { a, a + n };
    int64_t tid;
    uint32_t v;
    if (!stub_parse_tid(&c, &tid) || c.p != c.end || !stub_tid_to_vcpu(s, tid, &v)) {
        stub_reply_error(s, 2);
        return STUB_HR_REPLY;
    }
    char text[128];
    struct microvmi_x86_regs r;
    if (microvmi_read_registers(s->vm, v, &r) == MICROVMI_OK)
        snprintf(text, sizeof text, "vCPU %u, cr3 %#" PRIx64 "%s", v, r.cr3,
                 s->vcpus[v].held ? ", at an event" : "");
    else
        snprintf(text, sizeof text, "vCPU %u", v);
    uint8_t *t = rsp_buf_tail(&s->reply, 2 * strlen(text));
    if (t) {
        rsp_hex_encode((char *)t, text, strlen(text));
        rsp_buf_commit(&s->reply, 2 * strlen(text));
    }
    return STUB_HR_REPLY;
}

enum stub_hr stub_cmd_qAttached(struct stub *s, const char *a, size_t n)
{
    (void)a; (void)n;
    stub_reply_str(s, "1"); /* an existing VM: quitting gdb detaches, never kills */
    return STUB_HR_REPLY;
}
