/* Socket plumbing shared by the listener and the client. */
#ifndef MICROVMI_RSP_NET_H
#define MICROVMI_RSP_NET_H

#include "spec.h"

/* A non-blocking listening socket for a TCP or unix spec, or -1 (err set). */
int rsp_net_listen(const struct rsp_spec *s, char *err, size_t errlen);
/* A connected non-blocking socket, or -1 (err set). */
int rsp_net_connect(const struct rsp_spec *s, int timeout_ms, char *err, size_t errlen);
/* "host:port" of a bound socket; returns the port (0 for non-IP, -1 on error). */
int rsp_net_describe(int fd, char *out, size_t outlen);
void rsp_net_nodelay(int fd);

#endif
