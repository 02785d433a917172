/* qRcmd (gdb's `monitor`): help, info, phys, translate, cr3filter, vcpus. */
#include "args.h"
#include "stub.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

struct out {
    char text[8192];
    size_t len;
};

static void outf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void outf(struct out *o, const char *fmt, ...)
{
    if (o->len >= sizeof o->text - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->text + o->len, sizeof o->text - o->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n < sizeof o->text - o->len ? (size_t)n : sizeof o->text - o->len - 1;
}

static bool parse_u64(const char *t, uint64_t *v)
{
    if (!t || !*t)
        return false;
    char *end;
    errno = 0;
    *v = strtoull(t, &end, 0);
    return !errno && *end == '\0';
}

static void cmd_help(struct stub *s, struct out *o)
{
    (void)s;
    outf(o, "microvmi-gdbstub monitor commands:\n"
            "  help                  this text\n"
            "  info                  driver, capabilities, vCPUs, breakpoints\n"
            "  vcpus                 each vCPU's rip, cr3 and state\n"
            "  phys on|off           m/M/Z addresses are guest-physical (on) or virtual (off)\n"
            "  translate GVA [CR3]   walk the page tables (current vCPU's, or CR3's)\n"
            "  cr3filter CR3|off     breakpoints and watchpoints stop only in that address space\n");
}

static void cmd_info(struct stub *s, struct out *o)
{
    outf(o, "driver: %s\nvCPUs: %u\n", microvmi_driver_name(s->vm), s->nvcpus);
    char desc[1024] = "";
    if (microvmi_describe(s->vm, desc, sizeof desc) == MICROVMI_OK && desc[0])
        outf(o, "%s%s", desc, desc[strlen(desc) - 1] == '\n' ? "" : "\n");
    outf(o, "capabilities:");
    size_t count;
    const struct microvmi_cap_info *caps = microvmi_capability_table(&count);
    for (size_t i = 0; i < count; i++)
        if (s->caps & caps[i].bit)
            outf(o, " %s", caps[i].name);
    outf(o, "\nmechanisms: Z0 %s, Z1 %s, Z2-4 %s, step %s\n",
         (s->caps & MICROVMI_CAP_EVENT_INT3) ? "int3+intercept"
         : (s->caps & MICROVMI_CAP_NATIVE_BREAKPOINT) ? "native" : "none",
         (s->caps & MICROVMI_CAP_EVENT_EXCEPTION) ? "DR0-3"
         : (s->caps & MICROVMI_CAP_NATIVE_HW_BREAKPOINT) ? "native" : "none",
         (s->caps & MICROVMI_CAP_EVENT_MEMORY) ? "SLAT permissions (any length)"
         : (s->caps & MICROVMI_CAP_NATIVE_WATCHPOINT) ? "native" : "none",
         (s->caps & MICROVMI_CAP_EVENT_SINGLESTEP) ? "MTF"
         : (s->caps & MICROVMI_CAP_NATIVE_SINGLESTEP) ? "native" : "temporary breakpoints");
    size_t hw = 0;
    for (int i = 0; i < 4; i++)
        hw += s->hwbps[i].used;
    outf(o, "breakpoints: %zu software, %zu hardware; watchpoints: %zu on %zu pages\n",
         s->nswbps, hw, s->nwatches, s->npages);
    outf(o, "phys: %s; cr3filter: ", s->phys ? "on" : "off");
    if (s->cr3filter_on)
        outf(o, "%#" PRIx64 "\n", s->cr3filter);
    else
        outf(o, "off\n");
}

static void cmd_vcpus(struct stub *s, struct out *o)
{
    for (uint32_t v = 0; v < s->nvcpus; v++) {
        struct microvmi_x86_regs r;
        if (microvmi_read_registers(s->vm, v, &r) == MICROVMI_OK)
            outf(o, "vCPU %u (thread %u): rip %#" PRIx64 " cr3 %#" PRIx64 "%s\n", v, v + 1, r.rip,
                 r.cr3, s->vcpus[v].held ? " [at event]" : "");
        else
            outf(o, "vCPU %u (thread %u): %s\n", v, v + 1, microvmi_last_error(s->vm));
    }
}

static void cmd_translate(struct stub *s, struct out *o, const char *gva_s, const char *cr3_s)
{
    uint64_t gva, cr3;
    if (!parse_u64(gva_s, &gva) || (cr3_s && !parse_u64(cr3_s, &cr3))) {
        outf(o, "usage: translate GVA [CR3]   (numbers in C syntax: 0x1000 or 4096)\n");
        return;
    }
    struct microvmi_address_space as;
    if (stub_address_space(s, s->g_vcpu, &as) != MICROVMI_OK) {
        outf(o, "error: %s\n", microvmi_last_error(s->vm));
        return;
    }
    if (cr3_s)
        as.cr3 = cr3;
    struct microvmi_translation t;
    if (microvmi_translate(s->vm, &as, gva, &t) != MICROVMI_OK) {
        outf(o, "%#" PRIx64 ": not mapped (%s)\n", gva, microvmi_last_error(s->vm));
        return;
    }
    outf(o, "%#" PRIx64 " -> %#" PRIx64 " (page %#" PRIx64 "%s%s%s, cr3 %#" PRIx64 ")\n", gva,
         t.gpa, t.page_size, t.writable ? ", writable" : ", read-only", t.user ? ", user" : "",
         t.nx ? ", nx" : "", as.cr3);
}

enum stub_hr stub_cmd_qRcmd(struct stub *s, const char *a, size_t n)
{
    char line[512];
    if (!stub_parse_rcmd(a, n, line, sizeof line)) {
        stub_reply_error(s, 22);
        return STUB_HR_REPLY;
    }
    char *words[4] = { 0 };
    int nw = 0;
    for (char *tok = strtok(line, " \t\n"); tok && nw < 4; tok = strtok(NULL, " \t\n"))
        words[nw++] = tok;
    struct out *po = calloc(1, sizeof *po);
    if (!po) {
        stub_reply_error(s, 12);
        return STUB_HR_REPLY;
    }
    const char *cmd = nw ? words[0] : "help";
    if (strcmp(cmd, "help") == 0) {
        cmd_help(s, po);
    } else if (strcmp(cmd, "info") == 0) {
        cmd_info(s, po);
    } else if (strcmp(cmd, "vcpus") == 0) {
        cmd_vcpus(s, po);
    } else if (strcmp(cmd, "phys") == 0 && nw == 2 &&
               (strcmp(words[1], "on") == 0 || strcmp(words[1], "off") == 0)) {
        s->phys = strcmp(words[1], "on") == 0;
        outf(po, "addresses are now guest-%s\n", s->phys ? "physical" : "virtual");
    } else if (strcmp(cmd, "translate") == 0 && (nw == 2 || nw == 3)) {
        cmd_translate(s, po, words[1], nw == 3 ? words[2] : NULL);
    } else if (strcmp(cmd, "cr3filter") == 0 && nw == 2) {
        uint64_t cr3;
        if (strcmp(words[1], "off") == 0) {
            s->cr3filter_on = false;
            outf(po, "cr3filter off: breakpoints stop in every address space\n");
        } else if (parse_u64(words[1], &cr3)) {
            s->cr3filter_on = true;
            s->cr3filter = cr3;
            outf(po, "breakpoints and watchpoints now stop only when cr3 is %#" PRIx64 "\n", cr3);
        } else {
            outf(po, "usage: cr3filter CR3|off\n");
        }
    } else {
        outf(po, "unknown or malformed command '%s'; try: monitor help\n", cmd);
    }
    if (po->len == 0) {
        stub_reply_str(s, "OK");
    } else {
        uint8_t *t = rsp_buf_tail(&s->reply, 2 * po->len);
        if (t) {
            rsp_hex_encode((char *)t, po->text, po->len);
            rsp_buf_commit(&s->reply, 2 * po->len);
        }
    }
    free(po);
    return STUB_HR_REPLY;
}
