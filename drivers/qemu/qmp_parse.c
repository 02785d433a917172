/* QMP wire format: one JSON object per line. The parsing half of the client,
 * kept free of I/O so the fuzzer can drive it. */
#include <stdlib.h>
#include <string.h>

#include "qmp.h"

void qmp_parse_line(const char *line, size_t len, struct qmp_msg *msg)
{
    memset(msg, 0, sizeof *msg);
    msg->kind = QMP_MSG_INVALID;
    msg->id = -1;
    if (len == 0 || len > QMP_MAX_LINE)
        return;
    json_tokener *tok = json_tokener_new_ex(64);
    if (!tok)
        return;
    json_object *obj = json_tokener_parse_ex(tok, line, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    json_tokener_free(tok);
    if (!obj || jerr != json_tokener_success) {
        json_object_put(obj);
        return;
    }
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        return;
    }
    msg->obj = obj;
    json_object *v;
    if (json_object_object_get_ex(obj, "id", &v) && json_object_is_type(v, json_type_int))
        msg->id = json_object_get_int64(v);
    if (json_object_object_get_ex(obj, "QMP", &v)) {
        msg->kind = QMP_MSG_GREETING;
    } else if (json_object_object_get_ex(obj, "return", &v)) {
        msg->kind = QMP_MSG_RETURN;
        msg->value = v;
    } else if (json_object_object_get_ex(obj, "error", &v)) {
        msg->kind = QMP_MSG_ERROR;
        json_object *d;
        msg->error_desc = "QEMU reported an error without a description";
        if (json_object_is_type(v, json_type_object) && json_object_object_get_ex(v, "desc", &d) &&
            json_object_is_type(d, json_type_string))
            msg->error_desc = json_object_get_string(d);
    } else if (json_object_object_get_ex(obj, "event", &v) &&
               json_object_is_type(v, json_type_string)) {
        msg->kind = QMP_MSG_EVENT;
        msg->event = json_object_get_string(v);
        json_object *d;
        if (json_object_object_get_ex(obj, "data", &d))
            msg->value = d;
    }
}

static bool grow(struct qmp_lines *l, size_t need)
{
    if (need <= l->cap)
        return true;
    size_t cap = l->cap ? l->cap : 4096;
    while (cap < need)
        cap *= 2;
    char *n = realloc(l->buf, cap);
    if (!n)
        return false;
    l->buf = n;
    l->cap = cap;
    return true;
}

/* Deliver the complete lines in buf; keep the partial tail. */
bool qmp_lines_drain(struct qmp_lines *l, int (*fn)(void *ctx, const char *line, size_t len),
                     void *ctx)
{
    size_t start = 0;
    bool stop = false;
    while (!stop) {
        char *nl = l->len > start ? memchr(l->buf + start, '\n', l->len - start) : NULL;
        if (!nl)
            break;
        size_t end = (size_t)(nl - l->buf);
        size_t n = end - start;
        if (n && l->buf[start + n - 1] == '\r')
            n--;
        if (n)
            stop = fn(ctx, l->buf + start, n) != 0;
        start = end + 1;
    }
    if (start) {
        memmove(l->buf, l->buf + start, l->len - start);
        l->len -= start;
    }
    return true;
}

bool qmp_lines_feed(struct qmp_lines *l, const char *bytes, size_t len,
                    int (*fn)(void *ctx, const char *line, size_t len), void *ctx)
{
    while (len) {
        if (l->overflow) {
            /* Skip to the end of the line that grew too long. */
            const char *nl = memchr(bytes, '\n', len);
            if (!nl)
                return true;
            len -= (size_t)(nl + 1 - bytes);
            bytes = nl + 1;
            l->overflow = false;
            continue;
        }
        size_t chunk = len;
        if (l->len + chunk > QMP_MAX_LINE) {
            /* No newline can be in the buffer (drain ran): drop it. */
            chunk = QMP_MAX_LINE - l->len;
        }
        if (!grow(l, l->len + chunk + 1))
            return false;
        memcpy(l->buf + l->len, bytes, chunk);
        l->len += chunk;
        bytes += chunk;
        len -= chunk;
        qmp_lines_drain(l, fn, ctx);
        if (l->len >= QMP_MAX_LINE) {
            l->len = 0;
            l->overflow = true;
        }
    }
    return true;
}

void qmp_lines_free(struct qmp_lines *l)
{
    free(l->buf);
    memset(l, 0, sizeof *l);
}
