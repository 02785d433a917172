/* The register layout of QEMU's gdbstub, from its target description XML
 * (qXfer:features:read), so the `g` packet is decoded by name, not by a
 * table that breaks when QEMU adds a register. */
#ifndef MICROVMI_QEMU_TDESC_H
#define MICROVMI_QEMU_TDESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TDESC_MAX_REGS 160
#define TDESC_MAX_INCLUDES 8

struct tdesc_reg {
    char name[24];
    uint32_t regnum;  /* the number for p/P */
    uint32_t bytes;   /* bitsize / 8 */
    uint32_t offset;  /* byte offset in the `g` reply (regnum order) */
};

struct tdesc {
    struct tdesc_reg regs[TDESC_MAX_REGS];
    size_t count;
    uint32_t next_regnum;
    char includes[TDESC_MAX_INCLUDES][64]; /* xi:include hrefs not yet read */
    size_t nincludes;
};

/* Add the <reg> elements of one XML document (comments skipped). Collects
 * <xi:include href=...> names in includes[]. False on malformed <reg> data
 * (a reg with no name or bitsize that is not a multiple of 8). */
bool tdesc_parse_xml(struct tdesc *t, const char *xml, size_t len);
/* Sort by regnum and assign `g` offsets. */
void tdesc_finish(struct tdesc *t);
const struct tdesc_reg *tdesc_find(const struct tdesc *t, const char *name);

#endif
