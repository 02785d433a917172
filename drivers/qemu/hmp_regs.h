/* Parsing HMP `info registers` (QEMU's x86_cpu_dump_state text). */
#ifndef MICROVMI_QEMU_HMP_REGS_H
#define MICROVMI_QEMU_HMP_REGS_H

#include <stdbool.h>
#include <stddef.h>

#include "microvmi.h"

/* Fill what the text has (first CPU block only) and set regs->present for
 * each complete group: GPR, SEGMENTS (with base/limit/attributes), CONTROL
 * (cr0/2/3/4; HMP has no cr8), DEBUG, DTABLES, MSRS (efer only). Registers
 * not in the text are left untouched. False when not even rip was found.
 * Never reads past len. */
bool qemu_hmp_parse_regs(const char *text, size_t len, struct microvmi_x86_regs *regs);

/* QEMU's segment flags word (descriptor bits 8-23 in place) to the packed
 * VMX/SVM layout of struct microvmi_segment. */
unsigned qemu_seg_flags_to_attr(unsigned long flags);

#endif
