/* Sockets and clocks shared by the QMP client and the launcher. */
#ifndef MICROVMI_QEMU_SOCKUTIL_H
#define MICROVMI_QEMU_SOCKUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "microvmi.h"

/* Monotonic milliseconds. */
int64_t qemu_now_ms(void);

/* Connect a stream socket. spec: "/path", "unix:/path" or "HOST:PORT"
 * ("[v6]:PORT" too). Retries refused/missing sockets until timeout_ms (QEMU
 * may still be starting). The fd is non-blocking and close-on-exec. */
enum microvmi_status qemu_sock_connect(const char *spec, int timeout_ms, int *fd, char *err,
                                       size_t errlen);

/* True for a spec that names a unix socket. */
int qemu_spec_is_unix(const char *spec);

#endif
