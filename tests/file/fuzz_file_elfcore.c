/*
 * Fuzz the file driver's ELF core parsing (program headers, PT_LOAD bounds,
 * notes) and then use what it accepted: registers, memory, description.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "microvmi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("core", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof path, "path=/proc/self/fd/%d", fd);
    const char *params[] = { path, "format=elf", NULL };
    microvmi_t *vm = NULL;
    char *err = NULL;
    if (microvmi_init("file", params, &vm, &err) == MICROVMI_OK) {
        uint32_t n = 0;
        uint64_t gfn = 0;
        unsigned char buf[64];
        char desc[2048];
        struct microvmi_x86_regs regs;
        struct microvmi_address_space as;
        struct microvmi_translation tr;
        microvmi_describe(vm, desc, sizeof desc);
        microvmi_vcpu_count(vm, &n);
        for (uint32_t v = 0; v < n && v < 8; v++) {
            microvmi_read_registers(vm, v, &regs);
            if (microvmi_vcpu_address_space(vm, v, &as) == MICROVMI_OK)
                microvmi_translate(vm, &as, regs.rip, &tr);
        }
        if (microvmi_max_gfn(vm, &gfn) == MICROVMI_OK) {
            microvmi_read_physical(vm, 0, buf, sizeof buf, NULL);
            microvmi_read_physical(vm, gfn << 12, buf, sizeof buf, NULL);
            microvmi_read_physical(vm, (gfn << 12) + 4064, buf, sizeof buf, NULL);
        }
        microvmi_destroy(vm);
    }
    free(err);
    close(fd);
    return 0;
}
