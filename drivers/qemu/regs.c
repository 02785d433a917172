/* Registers: the gdbstub's `g` (GPRs, selectors, fs/gs/kernel-gs bases,
 * CR0-4/8, EFER, x87/SSE) merged with HMP `info registers` (segment bases,
 * limits, attributes, GDTR/IDTR, DR0-7), which the gdbstub lacks. Writes go
 * through the gdbstub, one P packet per register that changed. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmp_regs.h"
#include "qemu.h"
#include "sockutil.h"

/* A gdbstub register and where it lives in struct microvmi_x86_regs. */
struct reg_map {
    const char *name;
    size_t off;      /* offsetof in microvmi_x86_regs */
    size_t size;     /* bytes in the struct */
    uint32_t group;  /* enum microvmi_regs_present */
};

#define R(n, field, grp) { n, offsetof(struct microvmi_x86_regs, field), \
                           sizeof(((struct microvmi_x86_regs *)0)->field), MICROVMI_REGS_##grp }

static const struct reg_map reg_map[] = {
    R("rax", rax, GPR), R("rbx", rbx, GPR), R("rcx", rcx, GPR), R("rdx", rdx, GPR),
    R("rsi", rsi, GPR), R("rdi", rdi, GPR), R("rbp", rbp, GPR), R("rsp", rsp, GPR),
    R("r8", r8, GPR), R("r9", r9, GPR), R("r10", r10, GPR), R("r11", r11, GPR),
    R("r12", r12, GPR), R("r13", r13, GPR), R("r14", r14, GPR), R("r15", r15, GPR),
    R("rip", rip, GPR), R("eflags", rflags, GPR),
    R("cs", cs.selector, SEGMENTS), R("ss", ss.selector, SEGMENTS),
    R("ds", ds.selector, SEGMENTS), R("es", es.selector, SEGMENTS),
    R("fs", fs.selector, SEGMENTS), R("gs", gs.selector, SEGMENTS),
    R("fs_base", fs.base, SEGMENTS), R("gs_base", gs.base, SEGMENTS),
    R("k_gs_base", kernel_gs_base, MSRS),
    R("cr0", cr0, CONTROL), R("cr2", cr2, CONTROL), R("cr3", cr3, CONTROL),
    R("cr4", cr4, CONTROL), R("cr8", cr8, CONTROL), R("efer", efer, MSRS),
    R("fctrl", fpu.fcw, FPU), R("fstat", fpu.fsw, FPU), R("ftag", fpu.ftw, FPU),
    R("fiseg", fpu.fcs, FPU), R("fioff", fpu.fip, FPU), R("foseg", fpu.fds, FPU),
    R("fooff", fpu.fdp, FPU), R("fop", fpu.fop, FPU), R("mxcsr", fpu.mxcsr, FPU),
};

/* st0-7 and xmm0-15 are arrays: resolve by name. */
static bool vector_reg(const char *name, size_t *off, size_t *size)
{
    unsigned i;
    char tail;
    if (sscanf(name, "st%u%c", &i, &tail) == 1 && i < 8) {
        *off = offsetof(struct microvmi_x86_regs, fpu.st) + 10 * i;
        *size = 10;
        return true;
    }
    if (sscanf(name, "xmm%u%c", &i, &tail) == 1 && i < 16) {
        *off = offsetof(struct microvmi_x86_regs, fpu.xmm) + 16 * i;
        *size = 16;
        return true;
    }
    return false;
}

/* Where tdesc register r goes; false for registers we do not model. */
static bool locate(const struct tdesc_reg *r, size_t *off, size_t *size, uint32_t *group)
{
    for (size_t i = 0; i < sizeof reg_map / sizeof reg_map[0]; i++) {
        if (!strcmp(reg_map[i].name, r->name)) {
            *off = reg_map[i].off;
            *size = reg_map[i].size;
            *group = reg_map[i].group;
            return true;
        }
    }
    *group = MICROVMI_REGS_FPU;
    return vector_reg(r->name, off, size);
}

/* Little-endian copy between a gdb register of gbytes and a struct field of
 * fbytes (zero-extend / truncate). */
static void copy_le(void *dst, size_t dlen, const void *src, size_t slen)
{
    memset(dst, 0, dlen);
    memcpy(dst, src, dlen < slen ? dlen : slen);
}

/* Resolve every register of QEMU's description once (names, sizes and
 * offsets never change for a connection): a stop then costs a few memcpy. */
static void slots_init(struct qemu_ctx *q)
{
    const struct tdesc *t = &q->gdb.tdesc;
    q->nslots = 0;
    for (size_t i = 0; i < t->count && q->nslots < TDESC_MAX_REGS; i++) {
        const struct tdesc_reg *tr = &t->regs[i];
        size_t off, size;
        uint32_t group;
        if (tr->offset + tr->bytes > q->gdb.g_len || tr->bytes > 16 ||
            !locate(tr, &off, &size, &group))
            continue;
        q->slots[q->nslots++] = (struct qemu_reg_slot){
            .goff = tr->offset, .gbytes = tr->bytes, .soff = (uint32_t)off,
            .ssize = (uint32_t)size, .group = group, .regnum = tr->regnum, .name = tr->name };
    }
    q->slots_ready = true;
}

void qemu_regs_from_g(struct qemu_ctx *q, const uint8_t *g, struct microvmi_x86_regs *r)
{
    if (!q->slots_ready)
        slots_init(q);
    uint32_t got = 0;
    for (size_t i = 0; i < q->nslots; i++) {
        const struct qemu_reg_slot *sl = &q->slots[i];
        copy_le((uint8_t *)r + sl->soff, sl->ssize, g + sl->goff, sl->gbytes);
        got |= sl->group;
    }
    /* Selectors and fs/gs bases alone are not the SEGMENTS group (HMP adds
     * the rest); the others are complete from the gdbstub. */
    r->present |= got & (MICROVMI_REGS_GPR | MICROVMI_REGS_CONTROL | MICROVMI_REGS_FPU |
                         MICROVMI_REGS_MSRS);
}

static enum microvmi_status load_g(struct qemu_ctx *q, uint32_t vcpu)
{
    struct qemu_vcpu *v = &q->vcpus[vcpu];
    if (v->g_valid)
        return MICROVMI_OK;
    if (q->gdb.g_len > sizeof v->g)
        return microvmi_fail(q->vm, MICROVMI_NOT_SUPPORTED,
                             "QEMU's register block is %zu bytes, more than we know", q->gdb.g_len);
    enum microvmi_status st = qgdb_read_g(&q->gdb, vcpu + 1, v->g);
    if (st != MICROVMI_OK)
        return qemu_fail_gdb(q, st);
    v->g_valid = true;
    return MICROVMI_OK;
}

/* What must not change for cached HMP state to stay valid. */
static void hmp_key(struct qemu_ctx *q, uint32_t vcpu, uint64_t key[9])
{
    struct microvmi_x86_regs r = { 0 };
    qemu_regs_from_g(q, q->vcpus[vcpu].g, &r);
    uint64_t k[9] = { r.cs.selector, r.ss.selector, r.ds.selector, r.es.selector, r.fs.selector,
                      r.gs.selector, r.cr0, r.cr4, r.efer };
    memcpy(key, k, sizeof k);
}

/* The cached HMP state still holds (needs the `g` bytes of this stop). */
static bool hmp_reusable(struct qemu_ctx *q, uint32_t vcpu)
{
    struct qemu_vcpu *v = &q->vcpus[vcpu];
    if (!q->have_gdb || !v->hmp_cached || !v->g_valid || !q->hmp_cache_ms ||
        qemu_now_ms() - v->hmp_time_ms > (int64_t)q->hmp_cache_ms)
        return false;
    uint64_t key[9];
    hmp_key(q, vcpu, key);
    return !memcmp(key, v->hmp_key, sizeof key);
}

void qemu_prefetch_hmp(struct qemu_ctx *q, uint32_t vcpu)
{
    char err[256];
    if (q->vcpus[vcpu].hmp_valid || hmp_reusable(q, vcpu))
        return;
    if (qmp_hmp_begin(q->qmp, "info registers", (int)vcpu, err, sizeof err) == MICROVMI_OK)
        q->hmp_prefetch = (int)vcpu;
}

static enum microvmi_status load_hmp(struct qemu_ctx *q, uint32_t vcpu)
{
    struct qemu_vcpu *v = &q->vcpus[vcpu];
    if (v->hmp_valid)
        return MICROVMI_OK;
    if (hmp_reusable(q, vcpu)) {
        v->hmp_valid = true;
        return MICROVMI_OK;
    }
    char *text = NULL, err[256];
    enum microvmi_status st;
    if (q->hmp_prefetch == (int)vcpu && qmp_hmp_pending(q->qmp)) {
        st = qmp_hmp_finish(q->qmp, &text, QEMU_QMP_TIMEOUT_MS, err, sizeof err);
    } else {
        qmp_hmp_cancel(q->qmp);
        st = qmp_hmp(q->qmp, "info registers", (int)vcpu, &text, QEMU_QMP_TIMEOUT_MS, err,
                     sizeof err);
    }
    q->hmp_prefetch = -1;
    if (st != MICROVMI_OK)
        return microvmi_fail(q->vm, st, "HMP info registers: %s", err);
    memset(&v->hmp, 0, sizeof v->hmp);
    bool ok = qemu_hmp_parse_regs(text, strlen(text), &v->hmp);
    free(text);
    if (!ok)
        return microvmi_fail(q->vm, MICROVMI_IO_ERROR,
                             "QEMU's `info registers` output was not understood");
    v->hmp_valid = true;
    if (q->have_gdb && v->g_valid) {
        v->hmp_cached = true;
        v->hmp_time_ms = qemu_now_ms();
        hmp_key(q, vcpu, v->hmp_key);
    }
    return MICROVMI_OK;
}

enum microvmi_status qemu_rip_cr3(struct qemu_ctx *q, uint32_t vcpu, uint64_t *rip, uint64_t *cr3)
{
    enum microvmi_status st = load_g(q, vcpu);
    if (st != MICROVMI_OK)
        return st;
    struct microvmi_x86_regs r = { 0 };
    qemu_regs_from_g(q, q->vcpus[vcpu].g, &r);
    *rip = r.rip;
    *cr3 = r.cr3;
    return MICROVMI_OK;
}

static enum microvmi_status check_stopped(struct qemu_ctx *q, uint32_t vcpu, const char *what)
{
    if (vcpu >= q->nvcpus)
        return microvmi_fail(q->vm, MICROVMI_INVALID_ARG, "vCPU %u does not exist (the VM has %u)",
                             vcpu, q->nvcpus);
    if (qemu_vm_running(q))
        return microvmi_fail(q->vm, MICROVMI_BAD_STATE,
                             "%s vCPU %u: the VM is running; pause it first", what, vcpu);
    return MICROVMI_OK;
}

static enum microvmi_status read_stopped(struct qemu_ctx *q, uint32_t vcpu,
                                         struct microvmi_x86_regs *regs)
{
    enum microvmi_status st = q->have_gdb ? load_g(q, vcpu) : MICROVMI_OK;
    if (st == MICROVMI_OK)
        st = load_hmp(q, vcpu);
    if (st != MICROVMI_OK)
        return st;
    struct qemu_vcpu *v = &q->vcpus[vcpu];
    *regs = v->hmp;
    if (q->have_gdb)
        qemu_regs_from_g(q, v->g, regs);
    return MICROVMI_OK;
}

enum microvmi_status qemu_read_registers(void *ctx, uint32_t vcpu, struct microvmi_x86_regs *regs)
{
    struct qemu_ctx *q = ctx;
    if (vcpu >= q->nvcpus)
        return microvmi_fail(q->vm, MICROVMI_INVALID_ARG, "vCPU %u does not exist (the VM has %u)",
                             vcpu, q->nvcpus);
    if (!qemu_vm_running(q))
        return read_stopped(q, vcpu, regs);
    /* A running VM: stop it for a consistent snapshot, then let it go on. */
    enum microvmi_status st = qemu_stop_now(q);
    if (st != MICROVMI_OK)
        return st;
    st = read_stopped(q, vcpu, regs);
    enum microvmi_status st2 = qemu_sync_run(q);
    return st != MICROVMI_OK ? st : st2;
}

/* Groups (or fields) the gdbstub cannot write: they must be unchanged. */
static const char *unwritable_change(const struct microvmi_x86_regs *cur,
                                     const struct microvmi_x86_regs *want)
{
    uint32_t p = want->present;
    if (p & MICROVMI_REGS_SEGMENTS) {
        const struct microvmi_segment *a[] = { &cur->cs, &cur->ss, &cur->ds, &cur->es,
                                               &cur->ldtr, &cur->tr };
        const struct microvmi_segment *b[] = { &want->cs, &want->ss, &want->ds, &want->es,
                                               &want->ldtr, &want->tr };
        for (size_t i = 0; i < 6; i++)
            if (a[i]->base != b[i]->base || a[i]->limit != b[i]->limit ||
                a[i]->attributes != b[i]->attributes || (i >= 4 && a[i]->selector != b[i]->selector))
                return "segment bases/limits/attributes (other than fs/gs base), ldtr, tr";
        if (cur->fs.limit != want->fs.limit || cur->fs.attributes != want->fs.attributes ||
            cur->gs.limit != want->gs.limit || cur->gs.attributes != want->gs.attributes)
            return "fs/gs limits and attributes";
    }
    if ((p & MICROVMI_REGS_DTABLES) &&
        (cur->gdtr.base != want->gdtr.base || cur->gdtr.limit != want->gdtr.limit ||
         cur->idtr.base != want->idtr.base || cur->idtr.limit != want->idtr.limit))
        return "gdtr/idtr";
    if ((p & MICROVMI_REGS_DEBUG) &&
        (cur->dr0 != want->dr0 || cur->dr1 != want->dr1 || cur->dr2 != want->dr2 ||
         cur->dr3 != want->dr3 || cur->dr6 != want->dr6 || cur->dr7 != want->dr7))
        return "dr0-7";
    if ((p & MICROVMI_REGS_MSRS) &&
        (cur->star != want->star || cur->lstar != want->lstar || cur->cstar != want->cstar ||
         cur->sfmask != want->sfmask || cur->sysenter_cs != want->sysenter_cs ||
         cur->sysenter_esp != want->sysenter_esp || cur->sysenter_eip != want->sysenter_eip))
        return "syscall/sysenter MSRs";
    if ((p & MICROVMI_REGS_XCR0) && cur->xcr0 != want->xcr0)
        return "xcr0";
    return NULL;
}

enum microvmi_status qemu_write_registers(void *ctx, uint32_t vcpu,
                                          const struct microvmi_x86_regs *regs)
{
    struct qemu_ctx *q = ctx;
    enum microvmi_status st = check_stopped(q, vcpu, "writing registers of");
    if (st != MICROVMI_OK)
        return st;
    if (!q->have_gdb)
        return microvmi_fail(q->vm, MICROVMI_NOT_SUPPORTED,
                             "writing registers needs QEMU's gdbstub (gdb=ADDRESS)");
    struct microvmi_x86_regs cur;
    st = qemu_read_registers(q, vcpu, &cur);
    if (st != MICROVMI_OK)
        return st;
    const char *bad = unwritable_change(&cur, regs);
    if (bad)
        return microvmi_fail(q->vm, MICROVMI_NOT_SUPPORTED,
                             "QEMU cannot write %s (not in its gdbstub); leave them unchanged", bad);
    struct qemu_vcpu *v = &q->vcpus[vcpu];
    if (!q->slots_ready)
        slots_init(q);
    for (size_t i = 0; i < q->nslots; i++) {
        const struct qemu_reg_slot *sl = &q->slots[i];
        if (!(regs->present & sl->group))
            continue;
        uint8_t want[16];
        copy_le(want, sl->gbytes, (const uint8_t *)regs + sl->soff, sl->ssize);
        if (!memcmp(want, v->g + sl->goff, sl->gbytes))
            continue;
        st = qgdb_write_reg(&q->gdb, vcpu + 1, sl->regnum, want, sl->gbytes);
        if (st != MICROVMI_OK) {
            v->g_valid = v->hmp_valid = v->hmp_cached = false;
            if (st == MICROVMI_INVALID_ARG || st == MICROVMI_NOT_SUPPORTED)
                return microvmi_fail(q->vm, MICROVMI_NOT_SUPPORTED,
                                     "QEMU refused to write %s: %s", sl->name, q->gdb.err);
            return qemu_fail_gdb(q, st);
        }
        memcpy(v->g + sl->goff, want, sl->gbytes);
        v->hmp_valid = v->hmp_cached = false;
    }
    return MICROVMI_OK;
}
