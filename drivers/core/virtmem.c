/*
 * Virtual memory on top of the walker: translate, read/write page by page,
 * and which address space a vCPU is in (CR0.PG, CR4.PAE/PSE/LA57, EFER).
 */
#include <inttypes.h>

#include "handle.h"
#include "walk.h"

#define CR0_PG (1ull << 31)
#define CR4_PSE (1ull << 4)
#define CR4_PAE (1ull << 5)
#define CR4_LA57 (1ull << 12)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)
#define SEG_ATTR_L (1u << 9)

/* Paging entries never cross a page (they are naturally aligned). */
static enum microvmi_status walk_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    microvmi_t *vm = opaque;
    return vm->ops->read_physical(vm->ctx, gpa, buf, len);
}

static enum microvmi_status translate(microvmi_t *vm, const struct microvmi_address_space *as,
                                      uint64_t gva, struct microvmi_translation *out)
{
    if (vm->ops->translate) {
        unsigned gen = vm->error_generation;
        return microvmi_checked(vm, vm->ops->translate(vm->ctx, as, gva, out), gen,
                                "translate");
    }
    if (!vm->ops->read_physical)
        return microvmi_unsupported(vm, "virtual addresses (it cannot read page tables)");
    char err[MICROVMI_ERROR_MAX];
    enum microvmi_status st = microvmi_walk(as, walk_read, vm, gva, out, err, sizeof err);
    if (st != MICROVMI_OK)
        return microvmi_fail(vm, st, "%s", err);
    return MICROVMI_OK;
}

enum microvmi_status microvmi_translate(microvmi_t *vm, const struct microvmi_address_space *as,
                                        uint64_t gva, struct microvmi_translation *out)
{
    if (!vm)
        return MICROVMI_INVALID_ARG;
    if (!as || !out)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG, "translate: as or out is NULL");
    return translate(vm, as, gva, out);
}

typedef enum microvmi_status (*phys_op)(microvmi_t *vm, uint64_t gpa, void *buf, size_t len,
                                        size_t *done);

static enum microvmi_status read_op(microvmi_t *vm, uint64_t gpa, void *buf, size_t len,
                                    size_t *done)
{
    return microvmi_read_physical(vm, gpa, buf, len, done);
}

static enum microvmi_status write_op(microvmi_t *vm, uint64_t gpa, void *buf, size_t len,
                                     size_t *done)
{
    return microvmi_write_physical(vm, gpa, buf, len, done);
}

static enum microvmi_status virtual_access(microvmi_t *vm, const struct microvmi_address_space *as,
                                           uint64_t gva, unsigned char *buf, size_t len,
                                           size_t *done, phys_op op, const char *verb)
{
    if (done)
        *done = 0;
    if (!vm)
        return MICROVMI_INVALID_ARG;
    if (!as || (!buf && len))
        return microvmi_fail(vm, MICROVMI_INVALID_ARG, "%s_virtual: as or buf is NULL", verb);
    /* Say so before walking page tables for nothing. */
    if (op == write_op && !vm->ops->write_physical)
        return microvmi_unsupported(vm, "writing virtual memory (it cannot write physical memory)");
    if (op == read_op && !vm->ops->read_physical)
        return microvmi_unsupported(vm, "reading virtual memory (it cannot read physical memory)");
    size_t off = 0;
    while (off < len) {
        uint64_t addr = gva + off;
        struct microvmi_translation tr;
        enum microvmi_status st = translate(vm, as, addr, &tr);
        if (st != MICROVMI_OK) {
            if (done)
                *done = off;
            return microvmi_fail(vm, st,
                                 "cannot %s virtual 0x%" PRIx64 " (%zu of %zu bytes done): %s",
                                 verb, addr, off, len, vm->error);
        }
        uint64_t room = tr.page_size - (addr & (tr.page_size - 1));
        size_t chunk = len - off < room ? len - off : (size_t)room;
        size_t part = 0;
        st = op(vm, tr.gpa, buf + off, chunk, &part);
        if (st != MICROVMI_OK) {
            if (done)
                *done = off + part;
            return microvmi_fail(vm, st, "cannot %s virtual 0x%" PRIx64 " (%zu of %zu bytes "
                                 "done): %s", verb, addr + part, off + part, len, vm->error);
        }
        off += chunk;
    }
    if (done)
        *done = len;
    return MICROVMI_OK;
}

enum microvmi_status microvmi_read_virtual(microvmi_t *vm, const struct microvmi_address_space *as,
                                           uint64_t gva, void *buf, size_t len, size_t *done)
{
    return virtual_access(vm, as, gva, buf, len, done, read_op, "read");
}

enum microvmi_status microvmi_write_virtual(microvmi_t *vm, const struct microvmi_address_space *as,
                                            uint64_t gva, const void *buf, size_t len,
                                            size_t *done)
{
    /* write_op only reads from buf; the cast shares the loop. */
    return virtual_access(vm, as, gva, (unsigned char *)(uintptr_t)buf, len, done, write_op,
                          "write");
}

enum microvmi_status microvmi_vcpu_address_space(microvmi_t *vm, uint32_t vcpu,
                                                 struct microvmi_address_space *as)
{
    if (!vm)
        return MICROVMI_INVALID_ARG;
    if (!as)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG, "vcpu_address_space: as is NULL");
    struct microvmi_x86_regs regs = { 0 };
    enum microvmi_status st = microvmi_read_registers(vm, vcpu, &regs);
    if (st != MICROVMI_OK)
        return st;
    if (!(regs.present & MICROVMI_REGS_CONTROL))
        return microvmi_fail(vm, MICROVMI_NOT_SUPPORTED,
                             "driver %s does not report vCPU %" PRIu32 "'s control registers: "
                             "give the paging mode and CR3 explicitly",
                             vm->ops->info.name, vcpu);
    *as = (struct microvmi_address_space){ .cr3 = regs.cr3, .pse = regs.cr4 & CR4_PSE };
    bool lma, nxe;
    if (regs.present & MICROVMI_REGS_MSRS) {
        lma = regs.efer & EFER_LMA;
        nxe = regs.efer & EFER_NXE;
    } else {
        /* No EFER (e.g. a QEMU core): long mode shows as a 64-bit code segment
         * or descriptor tables above 4 GiB; assume NX is on (it only makes
         * bit 63 a permission instead of a reserved bit). */
        lma = (regs.cr0 & CR0_PG) && (regs.cr4 & CR4_PAE) &&
              ((regs.cs.attributes & SEG_ATTR_L) || (regs.gdtr.base >> 32) ||
               (regs.idtr.base >> 32) || (regs.rip >> 32));
        nxe = true;
    }
    as->nxe = nxe;
    if (!(regs.cr0 & CR0_PG))
        as->mode = MICROVMI_PAGING_NONE;
    else if (lma)
        as->mode = (regs.cr4 & CR4_LA57) ? MICROVMI_PAGING_5LEVEL : MICROVMI_PAGING_4LEVEL;
    else if (regs.cr4 & CR4_PAE)
        as->mode = MICROVMI_PAGING_PAE;
    else
        as->mode = MICROVMI_PAGING_32BIT;
    return MICROVMI_OK;
}
