/*
 * The file driver's state: a read-only mapping of a memory dump, the guest-
 * physical ranges it holds, and the vCPU registers found in an ELF core.
 */
#ifndef MICROVMI_FILE_H
#define MICROVMI_FILE_H

#include "driver.h"

/* One PT_LOAD (or the whole raw file): [paddr, paddr+memsz) of guest-physical
 * memory; the first filesz bytes are at file offset, the rest read as zero. */
struct file_segment {
    uint64_t paddr, memsz, filesz, offset;
};

struct file_core {
    struct file_segment *segs; /* sorted by paddr */
    size_t nsegs;
    struct microvmi_x86_regs *vcpus;
    uint32_t nvcpus;
    int elf_class;             /* ELFCLASS32 / ELFCLASS64 */
    bool qemu_notes;           /* QEMU's "QEMU" notes gave control registers */
};

struct file_ctx {
    microvmi_t *vm;
    int fd;
    const unsigned char *map;
    uint64_t size;
    bool elf;
    struct file_core core;
    char path[256];
};

/* Parse an ELF core (already validated as ELF by magic) from fd of size
 * bytes into core. On failure writes a message into err. Frees nothing of
 * core on failure: call file_core_free. */
enum microvmi_status file_elfcore_parse(int fd, uint64_t size, struct file_core *core, char *err,
                                        size_t errlen);
void file_core_free(struct file_core *core);

/* Registers from one note's descriptor; false when it is too short. */
bool file_note_prstatus64(const unsigned char *desc, size_t len, struct microvmi_x86_regs *regs);
bool file_note_prstatus32(const unsigned char *desc, size_t len, struct microvmi_x86_regs *regs);
bool file_note_qemu_cpustate(const unsigned char *desc, size_t len,
                             struct microvmi_x86_regs *regs);

/* Memory ops (file_memory.c). */
enum microvmi_status file_read_physical(void *ctx, uint64_t gpa, void *buf, size_t len);
enum microvmi_status file_map_physical(void *ctx, uint64_t gpa, size_t len, bool writable,
                                       void **host);
enum microvmi_status file_unmap_physical(void *ctx, void *host, size_t len);
enum microvmi_status file_max_gfn(void *ctx, uint64_t *max_gfn);

#endif /* MICROVMI_FILE_H */
