/*
 * ELF core parsing with libelf: PT_LOAD segments by physical address and
 * per-vCPU registers from the notes. Everything in the file is untrusted:
 * sizes and offsets are checked against the file before use.
 */
#include <gelf.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

#define MAX_VCPUS 4096
#define MAX_SEGMENTS (1u << 20)
#define MAX_NOTES_SIZE (64u << 20) /* QEMU writes < 1 KiB per vCPU */

struct parse {
    Elf *elf;
    uint64_t size;
    struct file_core *core;
    uint32_t nprstatus, nqemu;
    char *err;
    size_t errlen;
};

static enum microvmi_status fail(struct parse *p, enum microvmi_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum microvmi_status fail(struct parse *p, enum microvmi_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, p->errlen, fmt, ap);
    va_end(ap);
    return st;
}

static int by_paddr(const void *a, const void *b)
{
    const struct file_segment *x = a, *y = b;
    return x->paddr < y->paddr ? -1 : x->paddr > y->paddr;
}

static enum microvmi_status add_load(struct parse *p, const GElf_Phdr *ph, size_t index)
{
    if (ph->p_memsz == 0)
        return MICROVMI_OK;
    uint64_t filesz = ph->p_filesz < ph->p_memsz ? ph->p_filesz : ph->p_memsz;
    if (ph->p_offset > p->size || filesz > p->size - ph->p_offset)
        return fail(p, MICROVMI_INIT_FAILED,
                    "PT_LOAD #%zu needs file bytes up to 0x%" PRIx64 " but the file has only "
                    "0x%" PRIx64 ": the core is truncated", index, ph->p_offset + filesz, p->size);
    if (ph->p_memsz - 1 > UINT64_MAX - ph->p_paddr)
        return fail(p, MICROVMI_INIT_FAILED, "PT_LOAD #%zu wraps past the end of the address space",
                    index);
    struct file_core *c = p->core;
    if (c->nsegs == MAX_SEGMENTS)
        return fail(p, MICROVMI_INIT_FAILED, "more than %u PT_LOAD segments", MAX_SEGMENTS);
    if ((c->nsegs & (c->nsegs - 1)) == 0) { /* grow at powers of two */
        size_t cap = c->nsegs ? 2 * c->nsegs : 8;
        struct file_segment *s = realloc(c->segs, cap * sizeof *s);
        if (!s)
            return fail(p, MICROVMI_OUT_OF_MEMORY, "out of host memory");
        c->segs = s;
    }
    c->segs[c->nsegs++] = (struct file_segment){ ph->p_paddr, ph->p_memsz, filesz, ph->p_offset };
    return MICROVMI_OK;
}

/* The registers of the n-th vCPU, growing the array as notes appear. */
static struct microvmi_x86_regs *vcpu_slot(struct parse *p, uint32_t n)
{
    struct file_core *c = p->core;
    if (n >= MAX_VCPUS)
        return NULL;
    if (n >= c->nvcpus) {
        struct microvmi_x86_regs *v = realloc(c->vcpus, (size_t)(n + 1) * sizeof *v);
        if (!v)
            return NULL;
        memset(v + c->nvcpus, 0, (size_t)(n + 1 - c->nvcpus) * sizeof *v);
        c->vcpus = v;
        c->nvcpus = n + 1;
    }
    return &c->vcpus[n];
}

static void one_note(struct parse *p, const GElf_Nhdr *nh, const char *name,
                     const unsigned char *desc)
{
    if (nh->n_namesz == 5 && memcmp(name, "CORE", 5) == 0 && nh->n_type == NT_PRSTATUS) {
        struct microvmi_x86_regs *r = vcpu_slot(p, p->nprstatus);
        if (!r)
            return;
        /* The layout follows the size: QEMU writes the i386 one into ELF64
         * cores of 32-bit guests with memory above 4 GiB. */
        bool ok = nh->n_descsz >= 336 ? file_note_prstatus64(desc, nh->n_descsz, r)
                                      : file_note_prstatus32(desc, nh->n_descsz, r);
        if (ok)
            p->nprstatus++;
    } else if (nh->n_namesz == 5 && memcmp(name, "QEMU", 5) == 0 && nh->n_type == 0) {
        /* QEMU notes follow all NT_PRSTATUS notes, in the same vCPU order. */
        struct microvmi_x86_regs *r = vcpu_slot(p, p->nqemu);
        if (r && file_note_qemu_cpustate(desc, nh->n_descsz, r)) {
            p->nqemu++;
            p->core->qemu_notes = true;
        }
    }
}

static enum microvmi_status read_notes(struct parse *p, const GElf_Phdr *ph, size_t index)
{
    if (ph->p_filesz == 0)
        return MICROVMI_OK;
    if (ph->p_offset > p->size || ph->p_filesz > p->size - ph->p_offset)
        return fail(p, MICROVMI_INIT_FAILED, "PT_NOTE #%zu lies beyond the end of the file",
                    index);
    /* libelf copies the chunk into memory: refuse absurd sizes. */
    if (ph->p_filesz > MAX_NOTES_SIZE)
        return fail(p, MICROVMI_INIT_FAILED, "PT_NOTE #%zu is %" PRIu64 " bytes, more than any "
                    "core's notes", index, (uint64_t)ph->p_filesz);
    Elf_Data *data = elf_getdata_rawchunk(p->elf, (int64_t)ph->p_offset, ph->p_filesz,
                                          ph->p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR);
    if (!data)
        return fail(p, MICROVMI_INIT_FAILED, "cannot read PT_NOTE #%zu: %s", index,
                    elf_errmsg(-1));
    size_t off = 0, name_off, desc_off;
    GElf_Nhdr nh;
    while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
        const unsigned char *base = data->d_buf;
        one_note(p, &nh, (const char *)base + name_off, base + desc_off);
    }
    return MICROVMI_OK;
}

static enum microvmi_status parse(struct parse *p)
{
    if (elf_kind(p->elf) != ELF_K_ELF)
        return fail(p, MICROVMI_INIT_FAILED, "not an ELF file (%s)", elf_errmsg(-1));
    GElf_Ehdr eh;
    if (!gelf_getehdr(p->elf, &eh))
        return fail(p, MICROVMI_INIT_FAILED, "bad ELF header: %s", elf_errmsg(-1));
    if (eh.e_type != ET_CORE)
        return fail(p, MICROVMI_INIT_FAILED,
                    "an ELF file but not a core (e_type %u): give a core from QEMU's "
                    "dump-guest-memory", eh.e_type);
    if (eh.e_machine != EM_X86_64 && eh.e_machine != EM_386)
        return fail(p, MICROVMI_INIT_FAILED, "ELF core for machine %u, not x86", eh.e_machine);
    p->core->elf_class = eh.e_ident[EI_CLASS];
    size_t phnum;
    if (elf_getphdrnum(p->elf, &phnum) != 0)
        return fail(p, MICROVMI_INIT_FAILED, "bad program headers: %s", elf_errmsg(-1));
    for (size_t i = 0; i < phnum; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(p->elf, (int)i, &ph))
            return fail(p, MICROVMI_INIT_FAILED, "bad program header #%zu: %s", i,
                        elf_errmsg(-1));
        enum microvmi_status st = MICROVMI_OK;
        if (ph.p_type == PT_LOAD)
            st = add_load(p, &ph, i);
        else if (ph.p_type == PT_NOTE)
            st = read_notes(p, &ph, i);
        if (st != MICROVMI_OK)
            return st;
    }
    if (p->core->nsegs == 0)
        return fail(p, MICROVMI_INIT_FAILED, "the core has no PT_LOAD segments: no memory");
    qsort(p->core->segs, p->core->nsegs, sizeof *p->core->segs, by_paddr);
    /* vCPUs are counted by NT_PRSTATUS (QEMU notes alone when there are
     * none); slots of malformed or stray notes are dropped. */
    p->core->nvcpus = p->nprstatus ? p->nprstatus : p->nqemu;
    return MICROVMI_OK;
}

enum microvmi_status file_elfcore_parse(int fd, uint64_t size, struct file_core *core, char *err,
                                        size_t errlen)
{
    if (elf_version(EV_CURRENT) == EV_NONE) {
        snprintf(err, errlen, "libelf is unusable: %s", elf_errmsg(-1));
        return MICROVMI_INIT_FAILED;
    }
    struct parse p = { .size = size, .core = core, .err = err, .errlen = errlen };
    p.elf = elf_begin(fd, ELF_C_READ, NULL);
    if (!p.elf) {
        snprintf(err, errlen, "cannot read the ELF file: %s", elf_errmsg(-1));
        return MICROVMI_INIT_FAILED;
    }
    enum microvmi_status st = parse(&p);
    elf_end(p.elf);
    return st;
}
