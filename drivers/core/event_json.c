/*
 * One event as one JSON object on one line (CLI `events`, the stub's verbose
 * log). 64-bit values are hex strings: JSON numbers lose bits above 2^53.
 */
#include <inttypes.h>
#include <stdarg.h>

#include "microvmi.h"

struct out {
    char *buf;
    size_t len, used;
    bool overflow;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
    if (o->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(o->buf + o->used, o->len - o->used, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= o->len - o->used)
        o->overflow = true;
    else
        o->used += (size_t)w;
}

static void hex(struct out *o, const char *key, uint64_t v)
{
    put(o, ",\"%s\":\"0x%" PRIx64 "\"", key, v);
}

static void num(struct out *o, const char *key, uint64_t v)
{
    put(o, ",\"%s\":%" PRIu64, key, v);
}

static void boolean(struct out *o, const char *key, bool v)
{
    put(o, ",\"%s\":%s", key, v ? "true" : "false");
}

static void access_field(struct out *o, enum microvmi_access a)
{
    put(o, ",\"access\":\"%s%s%s\"", (a & MICROVMI_ACCESS_R) ? "r" : "",
        (a & MICROVMI_ACCESS_W) ? "w" : "", (a & MICROVMI_ACCESS_X) ? "x" : "");
}

static const char *descriptor_name(enum microvmi_descriptor d)
{
    switch (d) {
    case MICROVMI_DESC_GDTR: return "gdtr";
    case MICROVMI_DESC_IDTR: return "idtr";
    case MICROVMI_DESC_LDTR: return "ldtr";
    case MICROVMI_DESC_TR: return "tr";
    }
    return "unknown";
}

static void kind_fields(struct out *o, const struct microvmi_event *ev)
{
    switch (ev->kind) {
    case MICROVMI_EVENT_CR:
        num(o, "cr", ev->u.cr.index);
        hex(o, "old", ev->u.cr.old_value);
        hex(o, "new", ev->u.cr.new_value);
        break;
    case MICROVMI_EVENT_XCR:
        num(o, "xcr", ev->u.xcr.index);
        hex(o, "old", ev->u.xcr.old_value);
        hex(o, "new", ev->u.xcr.new_value);
        break;
    case MICROVMI_EVENT_DR:
        num(o, "dr", ev->u.dr.index);
        boolean(o, "write", ev->u.dr.write);
        hex(o, "value", ev->u.dr.value);
        break;
    case MICROVMI_EVENT_MSR:
        put(o, ",\"msr\":\"0x%" PRIx32 "\"", ev->u.msr.index);
        boolean(o, "write", ev->u.msr.write);
        hex(o, "value", ev->u.msr.value);
        break;
    case MICROVMI_EVENT_INT3:
        hex(o, "gpa", ev->u.int3.gpa);
        hex(o, "gva", ev->u.int3.gva);
        num(o, "insn_len", ev->u.int3.insn_len);
        break;
    case MICROVMI_EVENT_EXCEPTION:
        num(o, "vector", ev->u.exception.vector);
        boolean(o, "software", ev->u.exception.software);
        if (ev->u.exception.has_error_code)
            hex(o, "error_code", ev->u.exception.error_code);
        if (ev->u.exception.vector == 14)
            hex(o, "cr2", ev->u.exception.cr2);
        num(o, "insn_len", ev->u.exception.insn_len);
        break;
    case MICROVMI_EVENT_SINGLESTEP:
        hex(o, "gpa", ev->u.singlestep.gpa);
        break;
    case MICROVMI_EVENT_DESCRIPTOR:
        put(o, ",\"descriptor\":\"%s\"", descriptor_name(ev->u.descriptor.which));
        boolean(o, "write", ev->u.descriptor.write);
        num(o, "insn_len", ev->u.descriptor.insn_len);
        break;
    case MICROVMI_EVENT_HYPERCALL:
        hex(o, "nr", ev->u.hypercall.nr);
        num(o, "insn_len", ev->u.hypercall.insn_len);
        break;
    case MICROVMI_EVENT_CPUID:
        put(o, ",\"leaf\":\"0x%" PRIx32 "\",\"subleaf\":\"0x%" PRIx32 "\"", ev->u.cpuid.leaf,
            ev->u.cpuid.subleaf);
        num(o, "insn_len", ev->u.cpuid.insn_len);
        break;
    case MICROVMI_EVENT_MEMORY:
        hex(o, "gpa", ev->u.memory.gpa);
        if (ev->u.memory.gva_valid)
            hex(o, "gva", ev->u.memory.gva);
        access_field(o, ev->u.memory.access);
        if (ev->u.memory.size)
            num(o, "size", ev->u.memory.size);
        break;
    case MICROVMI_EVENT_BREAKPOINT:
        hex(o, "gva", ev->u.breakpoint.address);
        break;
    case MICROVMI_EVENT_WATCHPOINT:
        hex(o, "gva", ev->u.watchpoint.address);
        access_field(o, ev->u.watchpoint.access);
        break;
    case MICROVMI_EVENT_SHUTDOWN:
        put(o, ",\"exit_code\":%d", ev->u.shutdown.exit_code);
        boolean(o, "crashed", ev->u.shutdown.crashed);
        break;
    case MICROVMI_EVENT_PAUSED:
    case MICROVMI_EVENT_KIND_COUNT:
        break;
    }
}

enum microvmi_status microvmi_event_to_json(const struct microvmi_event *ev, char *buf,
                                            size_t len)
{
    if (!ev || !buf || !len)
        return MICROVMI_INVALID_ARG;
    struct out o = { buf, len, 0, false };
    put(&o, "{\"vcpu\":%" PRIu32 ",\"kind\":\"%s\"", ev->vcpu, microvmi_event_kind_str(ev->kind));
    hex(&o, "rip", ev->rip);
    hex(&o, "cr3", ev->cr3);
    if (ev->view)
        num(&o, "view", ev->view);
    kind_fields(&o, ev);
    put(&o, "}");
    if (o.overflow) {
        buf[0] = '\0';
        return MICROVMI_INVALID_ARG;
    }
    return MICROVMI_OK;
}
