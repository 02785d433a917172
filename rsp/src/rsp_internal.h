/* Private helpers shared by the rsp sources. */
#ifndef MICROVMI_RSP_INTERNAL_H
#define MICROVMI_RSP_INTERNAL_H

#include <stdio.h>

#include "rsp.h"

extern const char rsp_hex_pairs[513];

/* rsp_hex_encode that also returns the sum of the chars it wrote (the
 * frame checksum comes for free while they are in registers). */
uint64_t rsp_hex_encode_sum(char *out, const void *mem, size_t len);

/* snprintf into an optional caller buffer. */
void rsp_set_err(char *err, size_t errlen, const char *fmt, ...) RSP_PRINTF(3, 4);

/* Milliseconds on a monotonic clock. */
int64_t rsp_now_ms(void);
/* Time left until deadline (-1 = no deadline) as a poll() timeout. */
int rsp_remaining_ms(int64_t deadline);
/* deadline for a timeout in ms, -1 stays -1 */
int64_t rsp_deadline(int timeout_ms);

/* Make fd non-blocking; returns the old flags or -1. */
int rsp_set_nonblocking(int fd);
/* Put back flags saved by rsp_set_nonblocking (no-op for -1). */
void rsp_restore_flags(int fd, int flags);

#endif
