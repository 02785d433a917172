/* Parsing of transport specs: "PORT", ":PORT", "HOST:PORT", "[V6]:PORT",
 * "unix:PATH", "stdio". */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "rsp_internal.h"
#include "spec.h"

static const char spec_help[] =
    "expected PORT, :PORT, HOST:PORT, [IPV6]:PORT, unix:PATH or stdio "
    "(e.g. 127.0.0.1:1234)";

static bool parse_port(const char *s, char *out, size_t outlen)
{
    size_t n = strlen(s);
    if (n == 0 || n > 5 || n >= outlen)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535)
        return false;
    snprintf(out, outlen, "%u", v);
    return true;
}

enum rsp_status rsp_spec_parse(const char *spec, struct rsp_spec *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (!spec || !*spec) {
        rsp_set_err(err, errlen, "empty address: %s", spec_help);
        return RSP_ERR_INVALID_ARG;
    }
    if (strcmp(spec, "stdio") == 0 || strcmp(spec, "-") == 0) {
        out->kind = RSP_SPEC_STDIO;
        return RSP_OK;
    }
    if (strncmp(spec, "unix:", 5) == 0) {
        const char *path = spec + 5;
        struct sockaddr_un sun;
        if (!*path) {
            rsp_set_err(err, errlen, "'%s': unix socket path is empty", spec);
            return RSP_ERR_INVALID_ARG;
        }
        if (strlen(path) >= sizeof sun.sun_path) {
            rsp_set_err(err, errlen, "'%s': unix socket path longer than %zu bytes",
                        spec, sizeof sun.sun_path - 1);
            return RSP_ERR_INVALID_ARG;
        }
        out->kind = RSP_SPEC_UNIX;
        snprintf(out->path, sizeof out->path, "%s", path);
        return RSP_OK;
    }
    out->kind = RSP_SPEC_TCP;
    const char *port;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':' || close == spec + 1 ||
            (size_t)(close - spec - 1) >= sizeof out->host) {
            rsp_set_err(err, errlen, "'%s': bad IPv6 address; %s", spec, spec_help);
            return RSP_ERR_INVALID_ARG;
        }
        memcpy(out->host, spec + 1, (size_t)(close - spec - 1));
        port = close + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        if (!colon) {
            port = spec;
        } else {
            if (memchr(spec, ':', (size_t)(colon - spec))) {
                rsp_set_err(err, errlen, "'%s': an IPv6 address needs brackets, e.g. [::1]:1234",
                            spec);
                return RSP_ERR_INVALID_ARG;
            }
            if ((size_t)(colon - spec) >= sizeof out->host) {
                rsp_set_err(err, errlen, "'%s': host name too long", spec);
                return RSP_ERR_INVALID_ARG;
            }
            memcpy(out->host, spec, (size_t)(colon - spec));
            port = colon + 1;
        }
    }
    if (!out->host[0])
        snprintf(out->host, sizeof out->host, "127.0.0.1"); /* local only unless asked */
    if (!parse_port(port, out->port, sizeof out->port)) {
        rsp_set_err(err, errlen, "'%s': bad port '%s' (0-65535); %s", spec, port, spec_help);
        return RSP_ERR_INVALID_ARG;
    }
    return RSP_OK;
}
