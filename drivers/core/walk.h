/*
 * The guest page-table walker, pure: it reads paging entries only through
 * the reader it is given, so tests can hand it tables built in a buffer.
 */
#ifndef MICROVMI_CORE_WALK_H
#define MICROVMI_CORE_WALK_H

#include "microvmi.h"

/* Read len bytes of guest-physical memory (one paging entry, 4 or 8 bytes). */
typedef enum microvmi_status (*microvmi_walk_read_fn)(void *opaque, uint64_t gpa, void *buf,
                                                      size_t len);

/* Translate gva in address space as. OK fills *tr; TRANSLATION_FAULT for a
 * non-present entry, a reserved bit or a non-canonical address; a reader
 * failure returns its status. On failure errbuf says which entry at which
 * address stopped the walk. */
enum microvmi_status microvmi_walk(const struct microvmi_address_space *as,
                                   microvmi_walk_read_fn read, void *opaque, uint64_t gva,
                                   struct microvmi_translation *tr, char *errbuf, size_t errlen);

#endif /* MICROVMI_CORE_WALK_H */
