/* The packet table: which handler serves which packet. Anything unknown gets
 * the empty reply, which gdb reads as "not supported". */
#include "stub.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum match { EXACT, PREFIX };

struct command {
    const char *name;
    enum match match;
    stub_handler_fn fn;
};

/* Longer names first where one is a prefix of another. */
static const struct command commands[] = {
    { "qSupported", PREFIX, stub_cmd_qSupported },
    { "QStartNoAckMode", EXACT, stub_cmd_noack },
    { "qXfer:", PREFIX, stub_cmd_qXfer },
    { "qfThreadInfo", EXACT, stub_cmd_qfThreadInfo },
    { "qsThreadInfo", EXACT, stub_cmd_qsThreadInfo },
    { "qThreadExtraInfo,", PREFIX, stub_cmd_qThreadExtraInfo },
    { "qAttached", PREFIX, stub_cmd_qAttached },
    { "qRcmd,", PREFIX, stub_cmd_qRcmd },
    { "qC", EXACT, stub_cmd_qC },
    { "vCont?", EXACT, stub_cmd_vcont_query },
    { "vCont;", PREFIX, stub_cmd_vcont },
    { "vKill", PREFIX, stub_cmd_k },
    { "?", EXACT, stub_cmd_question },
    { "g", EXACT, stub_cmd_g },
    { "G", PREFIX, stub_cmd_G },
    { "p", PREFIX, stub_cmd_p },
    { "P", PREFIX, stub_cmd_P },
    { "m", PREFIX, stub_cmd_m },
    { "M", PREFIX, stub_cmd_M },
    { "X", PREFIX, stub_cmd_X },
    { "Z", PREFIX, stub_cmd_Z },
    { "z", PREFIX, stub_cmd_z },
    { "c", PREFIX, stub_cmd_c },
    { "s", PREFIX, stub_cmd_s },
    { "C", PREFIX, stub_cmd_C },
    { "S", PREFIX, stub_cmd_S },
    { "H", PREFIX, stub_cmd_H },
    { "T", PREFIX, stub_cmd_T },
    { "D", PREFIX, stub_cmd_D },
    { "k", EXACT, stub_cmd_k },
};

void stub_reply_str(struct stub *s, const char *str)
{
    rsp_buf_append(&s->reply, str, strlen(str));
}

void stub_reply_printf(struct stub *s, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        rsp_buf_append(&s->reply, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

void stub_reply_error(struct stub *s, int code)
{
    rsp_buf_reset(&s->reply);
    stub_reply_printf(s, "E%02x", code & 0xff);
}

void stub_send_packet_str(struct stub *s, const char *payload)
{
    if (!s->conn)
        return;
    stub_log(s, 1, "-> %s", payload);
    rsp_conn_send_str(s->conn, payload);
}

void stub_dispatch(struct stub *s, const char *pkt, size_t len)
{
    rsp_buf_reset(&s->reply);
    const struct command *cmd = NULL;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        const struct command *c = &commands[i];
        size_t n = strlen(c->name);
        if (c->match == EXACT ? (len == n && memcmp(pkt, c->name, n) == 0)
                              : rsp_has_prefix(pkt, len, c->name)) {
            cmd = c;
            break;
        }
    }
    enum stub_hr hr = STUB_HR_REPLY;
    if (cmd) {
        size_t n = strlen(cmd->name);
        hr = cmd->fn(s, pkt + n, len - n);
    }
    if (hr == STUB_HR_REPLY && s->conn) {
        if (s->reply.failed) {
            rsp_buf_reset(&s->reply);
            s->reply.failed = false;
            stub_reply_error(s, 12); /* ENOMEM */
        }
        if (s->verbose >= 1) {
            size_t show = s->reply.len < 200 ? s->reply.len : 200;
            stub_log(s, 1, "-> %.*s%s", (int)show, (const char *)s->reply.data,
                     show < s->reply.len ? "..." : "");
        }
        rsp_conn_send_packet(s->conn, s->reply.data ? s->reply.data : (const uint8_t *)"",
                             s->reply.len);
    }
}
