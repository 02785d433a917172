/*
 * Physical memory of any length: split at 4 KiB boundaries so drivers only
 * ever see single-page accesses, and name the first address that failed.
 */
#include <inttypes.h>

#include "handle.h"

typedef enum microvmi_status (*page_op)(microvmi_t *vm, uint64_t gpa, void *buf, size_t len);

static enum microvmi_status read_page(microvmi_t *vm, uint64_t gpa, void *buf, size_t len)
{
    return vm->ops->read_physical(vm->ctx, gpa, buf, len);
}

static enum microvmi_status write_page(microvmi_t *vm, uint64_t gpa, void *buf, size_t len)
{
    return vm->ops->write_physical(vm->ctx, gpa, buf, len);
}

static enum microvmi_status split(microvmi_t *vm, page_op op, const char *verb, uint64_t gpa,
                                  unsigned char *buf, size_t len, size_t *done)
{
    if (len - 1 > UINT64_MAX - gpa)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG,
                             "cannot %s %zu bytes at guest-physical 0x%" PRIx64
                             ": the range wraps past the end of the address space",
                             verb, len, gpa);
    size_t off = 0;
    while (off < len) {
        uint64_t addr = gpa + off;
        size_t room = MICROVMI_PAGE_SIZE - (size_t)(addr & (MICROVMI_PAGE_SIZE - 1));
        size_t chunk = len - off < room ? len - off : room;
        unsigned gen = vm->error_generation;
        enum microvmi_status st = op(vm, addr, buf + off, chunk);
        if (st != MICROVMI_OK) {
            if (done)
                *done = off;
            const char *why = vm->error_generation != gen ? vm->error : microvmi_status_str(st);
            if (st == MICROVMI_NO_MEMORY_AT_ADDRESS && vm->error_generation == gen)
                why = "no guest memory there (check max_gfn in `microvmi info`)";
            return microvmi_fail(vm, st,
                                 "cannot %s guest-physical 0x%" PRIx64 " (%zu of %zu bytes "
                                 "done from 0x%" PRIx64 "): %s",
                                 verb, addr, off, len, gpa, why);
        }
        off += chunk;
    }
    if (done)
        *done = len;
    return MICROVMI_OK;
}

enum microvmi_status microvmi_read_physical(microvmi_t *vm, uint64_t gpa, void *buf,
                                            size_t len, size_t *done)
{
    if (done)
        *done = 0;
    if (!vm)
        return MICROVMI_INVALID_ARG;
    if (!vm->ops->read_physical)
        return microvmi_unsupported(vm, "reading physical memory");
    if (len == 0)
        return MICROVMI_OK;
    if (!buf)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG, "read_physical: buf is NULL");
    return split(vm, read_page, "read", gpa, buf, len, done);
}

enum microvmi_status microvmi_write_physical(microvmi_t *vm, uint64_t gpa, const void *buf,
                                             size_t len, size_t *done)
{
    if (done)
        *done = 0;
    if (!vm)
        return MICROVMI_INVALID_ARG;
    if (!vm->ops->write_physical)
        return microvmi_unsupported(vm, "writing physical memory");
    if (len == 0)
        return MICROVMI_OK;
    if (!buf)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG, "write_physical: buf is NULL");
    /* The driver op takes const data; the cast only shares split()'s loop. */
    return split(vm, write_page, "write", gpa, (unsigned char *)(uintptr_t)buf, len, done);
}

enum microvmi_status microvmi_map_physical(microvmi_t *vm, uint64_t gpa, size_t len,
                                           bool writable, void **host)
{
    if (!host || !len)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG, "map_physical: host is NULL or len is 0");
    *host = NULL;
    MICROVMI_FORWARD(vm, map_physical, "foreign mapping", gpa, len, writable, host);
}

enum microvmi_status microvmi_unmap_physical(microvmi_t *vm, void *host, size_t len)
{
    if (!host)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG, "unmap_physical: host is NULL");
    MICROVMI_FORWARD(vm, unmap_physical, "foreign mapping", host, len);
}
