/* Z/z: breakpoints and watchpoints; the mechanism is chosen from the
 * driver's capabilities (swbp.c, hwbp.c, watch.c). */
#include "args.h"
#include "stub.h"

#include <errno.h>

static bool can_swbp(const struct stub *s)
{
    return (s->caps & MICROVMI_CAP_EVENT_INT3) && (s->caps & MICROVMI_CAP_WRITE_PHYSICAL);
}

static enum stub_hr z_common(struct stub *s, const char *a, size_t n, bool insert)
{
    int type;
    uint64_t addr, kind;
    if (!stub_parse_z(a, n, &type, &addr, &kind)) {
        stub_reply_error(s, 22);
        return STUB_HR_REPLY;
    }
    int err = 0;
    switch (type) {
    case 0:
        if (can_swbp(s)) {
            err = insert ? stub_swbp_insert(s, addr, false) : stub_swbp_remove(s, addr, false);
        } else if (s->caps & MICROVMI_CAP_NATIVE_BREAKPOINT) {
            err = stub_native_bp(s, addr, insert);
        } else {
            return STUB_HR_REPLY; /* empty: not supported */
        }
        break;
    case 1:
        err = insert ? stub_hwbp_insert(s, addr) : stub_hwbp_remove(s, addr);
        break;
    default:
        if (kind == 0) {
            stub_reply_error(s, 22);
            return STUB_HR_REPLY;
        }
        err = insert ? stub_watch_insert(s, type, addr, kind)
                     : stub_watch_remove(s, type, addr, kind);
        break;
    }
    if (err == ENOSYS)
        return STUB_HR_REPLY; /* empty reply: gdb falls back or says unsupported */
    if (err) {
        stub_log(s, 1, "%c%d at %#llx: error %d", insert ? 'Z' : 'z', type,
                 (unsigned long long)addr, err);
        stub_reply_error(s, err);
    } else {
        stub_reply_str(s, "OK");
    }
    return STUB_HR_REPLY;
}

enum stub_hr stub_cmd_Z(struct stub *s, const char *a, size_t n)
{
    return z_common(s, a, n, true);
}

enum stub_hr stub_cmd_z(struct stub *s, const char *a, size_t n)
{
    return z_common(s, a, n, false);
}
