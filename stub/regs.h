/*
 * Register marshalling between struct microvmi_x86_regs and gdb's x86-64
 * layout as described by xml/target.xml (regnum order = 'g' packet order).
 */
#ifndef STUB_REGS_H
#define STUB_REGS_H

#include "microvmi.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STUB_REG_COUNT 66
#define STUB_REG_MAX_BYTES 16
#define STUB_REG_RIP 16
#define STUB_REG_EFLAGS 17

struct stub_reg_desc {
    const char *name;
    uint16_t bits;
};

const struct stub_reg_desc *stub_reg_desc(size_t regnum); /* NULL past the end */
/* Total bytes of a 'g' packet. */
size_t stub_regs_g_size(void);

/* Little-endian bytes of register regnum into out (STUB_REG_MAX_BYTES).
 * Returns false when the driver did not fill that register's group. */
bool stub_reg_get(const struct microvmi_x86_regs *regs, size_t regnum, uint8_t *out);
/* Store little-endian bytes into regnum; returns the enum
 * microvmi_regs_present group it belongs to (0 for a bad regnum). */
uint32_t stub_reg_set(struct microvmi_x86_regs *regs, size_t regnum, const uint8_t *in);

#endif
