/* qXfer:features:read (target.xml and what it includes) and
 * qXfer:threads:read (one <thread> per vCPU). */
#include "args.h"
#include "stub.h"

#include <stdio.h>
#include <string.h>

static void xfer_slice(struct stub *s, const char *data, size_t len, uint64_t off, uint64_t want)
{
    if (off >= len) {
        stub_reply_str(s, "l");
        return;
    }
    size_t n = len - (size_t)off;
    if (want < n)
        n = (size_t)want;
    stub_reply_str(s, off + n < len ? "m" : "l");
    rsp_buf_append(&s->reply, data + off, n);
}

static void threads_xml(struct stub *s, struct rsp_buf *b)
{
    rsp_buf_append(b, "<?xml version=\"1.0\"?>\n<threads>\n", 32);
    for (uint32_t v = 0; v < s->nvcpus; v++) {
        char line[96];
        int n = snprintf(line, sizeof line, "<thread id=\"%x\" core=\"%u\" name=\"vcpu%u\"/>\n",
                         v + 1, v, v);
        rsp_buf_append(b, line, (size_t)n);
    }
    rsp_buf_append(b, "</threads>\n", 11);
}

enum stub_hr stub_cmd_qXfer(struct stub *s, const char *a, size_t n)
{
    struct stub_xfer x;
    if (!stub_parse_xfer_read(a, n, &x)) {
        /* writes and unknown operations: not supported */
        return STUB_HR_REPLY;
    }
    if (strcmp(x.object, "features") == 0) {
        size_t len;
        const char *xml = stub_xml_find(x.annex, &len);
        if (!xml) {
            stub_reply_error(s, 0);
            return STUB_HR_REPLY;
        }
        xfer_slice(s, xml, len, x.offset, x.length);
    } else if (strcmp(x.object, "threads") == 0) {
        struct rsp_buf b = RSP_BUF_INIT;
        threads_xml(s, &b);
        if (b.failed)
            stub_reply_error(s, 12);
        else
            xfer_slice(s, (const char *)b.data, b.len, x.offset, x.length);
        rsp_buf_free(&b);
    }
    /* other objects: empty reply, not supported */
    return STUB_HR_REPLY;
}
