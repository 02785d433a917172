/* Guest-physical RAM layout of a QEMU VM and the RAM file that backs it. */
#ifndef MICROVMI_QEMU_LAYOUT_H
#define MICROVMI_QEMU_LAYOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QEMU_MAX_RANGES 64

/* [gpa, gpa+size) is backed by the memory backend at byte offset `offset`. */
struct qemu_ram_range {
    uint64_t gpa, size, offset;
};

struct qemu_layout {
    struct qemu_ram_range r[QEMU_MAX_RANGES];
    size_t count;
};

/* Parse HMP `info mtree -f`: the flat view of address space "memory", keep
 * the ram/rom ranges of the region named `region` (the memory backend's id),
 * sorted, adjacent ones merged. False when the text has no such view or no
 * such range (count 0). Never reads past len. */
bool qemu_layout_parse_mtree(const char *text, size_t len, const char *region,
                             struct qemu_layout *out);

/* The range holding gpa, or NULL. */
const struct qemu_ram_range *qemu_layout_find(const struct qemu_layout *l, uint64_t gpa);

/* One past the highest backed guest-physical address. */
uint64_t qemu_layout_end(const struct qemu_layout *l);

#endif
