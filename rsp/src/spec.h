/* A parsed transport spec (see rsp_listen). */
#ifndef MICROVMI_RSP_SPEC_H
#define MICROVMI_RSP_SPEC_H

#include "rsp.h"

enum rsp_spec_kind { RSP_SPEC_TCP, RSP_SPEC_UNIX, RSP_SPEC_STDIO };

struct rsp_spec {
    enum rsp_spec_kind kind;
    char host[256];
    char port[8];
    char path[108];
};

enum rsp_status rsp_spec_parse(const char *spec, struct rsp_spec *out, char *err, size_t errlen);

#endif
