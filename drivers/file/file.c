/*
 * The file driver: a saved or crashed VM's memory, read-only. Raw dumps
 * (file offset == guest-physical address) and ELF cores as QEMU's
 * dump-guest-memory writes them (PT_LOAD by p_paddr, registers from notes).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

#define FILE_CAPS                                                                      \
    (MICROVMI_CAP_VCPU_COUNT | MICROVMI_CAP_MAX_GFN | MICROVMI_CAP_READ_PHYSICAL |     \
     MICROVMI_CAP_READ_VIRTUAL | MICROVMI_CAP_READ_REGISTERS |                         \
     MICROVMI_CAP_FOREIGN_MAPPING)

void file_core_free(struct file_core *core)
{
    free(core->segs);
    free(core->vcpus);
    memset(core, 0, sizeof *core);
}

static void file_close(void *ctx)
{
    struct file_ctx *f = ctx;
    if (!f)
        return;
    if (f->map)
        munmap((void *)(uintptr_t)f->map, f->size);
    if (f->fd >= 0)
        close(f->fd);
    file_core_free(&f->core);
    free(f);
}

static enum microvmi_status open_raw(struct file_ctx *f)
{
    f->core.segs = calloc(1, sizeof *f->core.segs);
    if (!f->core.segs)
        return microvmi_fail(f->vm, MICROVMI_OUT_OF_MEMORY, "out of host memory");
    /* Guest memory is page-granular: a dump ending mid-page reads as zeros
     * up to the page end rather than failing inside the page. */
    uint64_t memsz = (f->size + MICROVMI_PAGE_SIZE - 1) & ~(uint64_t)(MICROVMI_PAGE_SIZE - 1);
    f->core.segs[0] = (struct file_segment){ .paddr = 0, .memsz = memsz, .filesz = f->size };
    f->core.nsegs = 1;
    return MICROVMI_OK;
}

static enum microvmi_status file_open(microvmi_t *vm, const struct microvmi_params *params,
                                      void **out)
{
    const char *path = microvmi_param(params, "path");
    const char *format = microvmi_param(params, "format");
    if (!path || !*path)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG,
                             "give the dump to open: path=FILE (a raw memory dump or an ELF "
                             "core from QEMU's dump-guest-memory)");
    if (!format)
        format = "auto";
    if (strcmp(format, "auto") && strcmp(format, "raw") && strcmp(format, "elf"))
        return microvmi_fail(vm, MICROVMI_INVALID_ARG,
                             "format=%s is not one of auto, raw, elf", format);

    struct file_ctx *f = calloc(1, sizeof *f);
    if (!f)
        return microvmi_fail(vm, MICROVMI_OUT_OF_MEMORY, "out of host memory");
    f->vm = vm;
    snprintf(f->path, sizeof f->path, "%s", path);
    f->fd = open(path, O_RDONLY | O_CLOEXEC);
    enum microvmi_status st;
    struct stat sb;
    if (f->fd < 0) {
        st = microvmi_fail(vm, MICROVMI_INIT_FAILED, "cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    if (fstat(f->fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        st = microvmi_fail(vm, MICROVMI_INIT_FAILED, "%s is not a regular file", path);
        goto fail;
    }
    if (sb.st_size == 0) {
        st = microvmi_fail(vm, MICROVMI_INIT_FAILED, "%s is empty: no memory to read", path);
        goto fail;
    }
    f->size = (uint64_t)sb.st_size;
    void *map = mmap(NULL, f->size, PROT_READ, MAP_SHARED, f->fd, 0);
    if (map == MAP_FAILED) {
        st = microvmi_fail(vm, MICROVMI_IO_ERROR, "cannot map %s: %s", path, strerror(errno));
        goto fail;
    }
    f->map = map;

    bool is_elf = f->size >= 4 && memcmp(f->map, "\177ELF", 4) == 0;
    f->elf = strcmp(format, "elf") == 0 || (strcmp(format, "auto") == 0 && is_elf);
    if (f->elf) {
        char err[512];
        st = file_elfcore_parse(f->fd, f->size, &f->core, err, sizeof err);
        if (st != MICROVMI_OK) {
            microvmi_fail(vm, st, "%s: %s%s", path, err,
                          strcmp(format, "elf") == 0 ? "" : " (format=raw reads it as a raw dump)");
            goto fail;
        }
    } else {
        st = open_raw(f);
        if (st != MICROVMI_OK)
            goto fail;
    }
    *out = f;
    return MICROVMI_OK;
fail:
    file_close(f);
    return st;
}

static uint64_t file_capabilities(void *ctx)
{
    struct file_ctx *f = ctx;
    uint64_t caps = FILE_CAPS;
    if (!f->core.nvcpus)
        caps &= ~MICROVMI_CAP_READ_REGISTERS;
    return caps;
}

static enum microvmi_status file_describe(void *ctx, char *buf, size_t len)
{
    struct file_ctx *f = ctx;
    int used = snprintf(buf, len, "file: %s (%" PRIu64 " bytes)\nformat: %s\n", f->path, f->size,
                        !f->elf ? "raw (file offset = guest-physical address)"
                        : f->core.elf_class == 2 ? "ELF64 core"
                                                  : "ELF32 core");
    if (f->elf && used >= 0 && (size_t)used < len)
        used += snprintf(buf + used, len - (size_t)used,
                         "vCPU register notes: %" PRIu32 "%s\nmemory ranges: %zu\n",
                         f->core.nvcpus, f->core.qemu_notes ? " (with QEMU CPU state)" : "",
                         f->core.nsegs);
    for (size_t i = 0; i < f->core.nsegs && used >= 0 && (size_t)used < len; i++) {
        const struct file_segment *s = &f->core.segs[i];
        used += snprintf(buf + used, len - (size_t)used,
                         "  0x%016" PRIx64 "-0x%016" PRIx64 "%s\n", s->paddr,
                         s->paddr + s->memsz - 1, s->filesz < s->memsz ? " (partly zero)" : "");
    }
    return MICROVMI_OK;
}

static enum microvmi_status file_vcpu_count(void *ctx, uint32_t *count)
{
    struct file_ctx *f = ctx;
    *count = f->core.nvcpus ? f->core.nvcpus : 1;
    return MICROVMI_OK;
}

static enum microvmi_status file_read_registers(void *ctx, uint32_t vcpu,
                                                struct microvmi_x86_regs *regs)
{
    struct file_ctx *f = ctx;
    if (!f->elf)
        return microvmi_fail(f->vm, MICROVMI_NOT_SUPPORTED,
                             "a raw dump has no registers: use an ELF core "
                             "(QEMU: dump-guest-memory without -z/-l/-s) to get them");
    if (!f->core.nvcpus)
        return microvmi_fail(f->vm, MICROVMI_NOT_SUPPORTED,
                             "this ELF core has no NT_PRSTATUS notes, so no registers");
    if (vcpu >= f->core.nvcpus)
        return microvmi_fail(f->vm, MICROVMI_INVALID_ARG,
                             "vCPU %" PRIu32 " does not exist: the core has %" PRIu32 " vCPUs "
                             "(0-%" PRIu32 ")", vcpu, f->core.nvcpus, f->core.nvcpus - 1);
    *regs = f->core.vcpus[vcpu];
    return MICROVMI_OK;
}

const struct microvmi_driver_ops microvmi_driver_file = {
    .info = {
        .name = "file",
        .description = "raw memory dumps and ELF cores (QEMU dump-guest-memory), read-only",
        .capabilities = FILE_CAPS,
        .limits = "read-only; registers only from ELF cores (NT_PRSTATUS, QEMU notes); "
                  "no events",
        .params = "path=FILE format=auto|raw|elf",
    },
    .open = file_open,
    .close = file_close,
    .capabilities = file_capabilities,
    .describe = file_describe,
    .vcpu_count = file_vcpu_count,
    .max_gfn = file_max_gfn,
    .read_registers = file_read_registers,
    .read_physical = file_read_physical,
    .map_physical = file_map_physical,
    .unmap_physical = file_unmap_physical,
};
