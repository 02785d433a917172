/* Helpers shared by the file driver tests: temp files and opening them. */
#ifndef TEST_FILE_COMMON_H
#define TEST_FILE_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "microvmi.h"

/* Write len bytes to a fresh temp file; returns its malloc'd path. */
static inline char *write_temp(const void *data, size_t len)
{
    char *path = strdup("/tmp/microvmi-test-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0)
        return NULL;
    const unsigned char *p = data;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w <= 0) {
            close(fd);
            return NULL;
        }
        p += w;
        len -= (size_t)w;
    }
    close(fd);
    return path;
}

static inline enum microvmi_status open_file(const char *path, const char *format,
                                             microvmi_t **vm, char **err)
{
    char p[512], f[64];
    snprintf(p, sizeof p, "path=%s", path);
    snprintf(f, sizeof f, "format=%s", format);
    const char *params[] = { p, f, NULL };
    return microvmi_init("file", params, vm, err);
}

#endif
