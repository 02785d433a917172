/*
 * Build small ELF cores in memory the way QEMU's dump-guest-memory lays
 * them out (PT_NOTE first, then PT_LOADs), for the file driver's tests.
 */
#ifndef ELFCORE_BUILD_H
#define ELFCORE_BUILD_H

#include <elf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct core_load {
    uint64_t paddr, memsz, filesz;
    unsigned char fill; /* data byte = fill ^ (offset & 0xff) */
};

struct core_note {
    const char *name; /* "CORE" or "QEMU" */
    uint32_t type;
    const void *desc;
    uint32_t descsz;
};

struct core_buf {
    unsigned char *data;
    size_t len, cap;
};

static inline void core_put(struct core_buf *b, size_t at, const void *src, size_t n)
{
    if (at + n > b->cap) { /* grow geometrically: cores are written a byte at a time */
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < at + n)
            cap *= 2;
        b->data = realloc(b->data, cap);
        memset(b->data + b->cap, 0, cap - b->cap);
        b->cap = cap;
    }
    if (at + n > b->len)
        b->len = at + n;
    memcpy(b->data + at, src, n);
}

/* Notes: 4-byte aligned name and desc, as QEMU writes them. */
static inline size_t core_notes(struct core_buf *b, size_t at, const struct core_note *notes,
                                size_t nnotes)
{
    size_t start = at;
    for (size_t i = 0; i < nnotes; i++) {
        uint32_t namesz = (uint32_t)strlen(notes[i].name) + 1;
        uint32_t hdr[3] = { namesz, notes[i].descsz, notes[i].type };
        core_put(b, at, hdr, sizeof hdr);
        at += sizeof hdr;
        core_put(b, at, notes[i].name, namesz);
        at += (namesz + 3) & ~3u;
        core_put(b, at, notes[i].desc, notes[i].descsz);
        at += (notes[i].descsz + 3) & ~3u;
    }
    return at - start;
}

static inline struct core_buf core_build(int elfclass, uint16_t machine, uint16_t type,
                                         const struct core_load *loads, size_t nloads,
                                         const struct core_note *notes, size_t nnotes)
{
    struct core_buf b = { NULL, 0, 0 };
    bool is64 = elfclass == ELFCLASS64;
    size_t ehsz = is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
    size_t phsz = is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
    size_t nph = nloads + 1;
    size_t note_off = ehsz + nph * phsz;
    size_t note_len = core_notes(&b, note_off, notes, nnotes);
    size_t data_off = (note_off + note_len + 4095) & ~(size_t)4095;
    unsigned char ident[EI_NIDENT] = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, (unsigned char)elfclass,
                                       ELFDATA2LSB, EV_CURRENT };
    if (is64) {
        Elf64_Ehdr eh = { .e_type = type, .e_machine = machine, .e_version = EV_CURRENT,
                          .e_phoff = ehsz, .e_ehsize = (uint16_t)ehsz,
                          .e_phentsize = (uint16_t)phsz, .e_phnum = (uint16_t)nph };
        memcpy(eh.e_ident, ident, EI_NIDENT);
        core_put(&b, 0, &eh, sizeof eh);
        Elf64_Phdr note = { .p_type = PT_NOTE, .p_offset = note_off, .p_filesz = note_len,
                            .p_memsz = note_len, .p_align = 4 };
        core_put(&b, ehsz, &note, sizeof note);
    } else {
        Elf32_Ehdr eh = { .e_type = type, .e_machine = machine, .e_version = EV_CURRENT,
                          .e_phoff = (uint32_t)ehsz, .e_ehsize = (uint16_t)ehsz,
                          .e_phentsize = (uint16_t)phsz, .e_phnum = (uint16_t)nph };
        memcpy(eh.e_ident, ident, EI_NIDENT);
        core_put(&b, 0, &eh, sizeof eh);
        Elf32_Phdr note = { .p_type = PT_NOTE, .p_offset = (uint32_t)note_off,
                            .p_filesz = (uint32_t)note_len, .p_memsz = (uint32_t)note_len,
                            .p_align = 4 };
        core_put(&b, ehsz, &note, sizeof note);
    }
    size_t off = data_off;
    for (size_t i = 0; i < nloads; i++) {
        const struct core_load *l = &loads[i];
        if (is64) {
            Elf64_Phdr ph = { .p_type = PT_LOAD, .p_offset = off, .p_paddr = l->paddr,
                              .p_filesz = l->filesz, .p_memsz = l->memsz, .p_align = 0 };
            core_put(&b, ehsz + (i + 1) * phsz, &ph, sizeof ph);
        } else {
            Elf32_Phdr ph = { .p_type = PT_LOAD, .p_offset = (uint32_t)off,
                              .p_paddr = (uint32_t)l->paddr, .p_filesz = (uint32_t)l->filesz,
                              .p_memsz = (uint32_t)l->memsz };
            core_put(&b, ehsz + (i + 1) * phsz, &ph, sizeof ph);
        }
        for (uint64_t j = 0; j < l->filesz; j++) {
            unsigned char c = (unsigned char)(l->fill ^ (j & 0xff));
            core_put(&b, off + j, &c, 1);
        }
        off += l->filesz;
    }
    return b;
}

#endif
