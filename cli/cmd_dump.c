/*
 * microvmi dump --out FILE: guest-physical memory 0..max_gfn as a raw dump
 * (readable back with --driver file). Unreadable pages are written as zeros.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define CHUNK (1u << 20)
#define PAGE 4096u

static void progress(uint64_t done, uint64_t total)
{
    int width = 40, filled = total ? (int)(done * (uint64_t)width / total) : width;
    fprintf(stderr, "\r[%-*.*s] %3d%% %" PRIu64 "/%" PRIu64 " MiB", width, filled,
            "########################################", total ? (int)(done * 100 / total) : 100,
            done >> 20, total >> 20);
}

static int write_all(int fd, const unsigned char *buf, size_t len, uint64_t offset)
{
    while (len) {
        ssize_t w = pwrite(fd, buf, len, (off_t)offset);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w, len -= (size_t)w, offset += (uint64_t)w;
    }
    return 0;
}

int cmd_dump(struct cli *cli, microvmi_t *vm)
{
    if (!cli->out)
        return cli_usage_error("dump needs --out FILE");
    uint64_t max_gfn;
    if (microvmi_max_gfn(vm, &max_gfn) != MICROVMI_OK)
        return cli_vm_error(vm, "dump: cannot learn the memory size");
    if (max_gfn >= (UINT64_MAX >> 12))
        return cli_usage_error("dump: max_gfn 0x%" PRIx64 " is too large", max_gfn);
    uint64_t total = (max_gfn + 1) * PAGE;
    int fd = open(cli->out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        fprintf(stderr, "microvmi: cannot create %s: %s\n", cli->out, strerror(errno));
        return CLI_FAILED;
    }
    unsigned char *buf = malloc(CHUNK);
    bool tty = isatty(STDERR_FILENO);
    uint64_t holes = 0;
    int rc = buf ? CLI_OK : CLI_FAILED;
    for (uint64_t at = 0; rc == CLI_OK && at < total; at += CHUNK) {
        size_t len = total - at < CHUNK ? (size_t)(total - at) : CHUNK;
        size_t done = 0;
        if (microvmi_read_physical(vm, at, buf, len, &done) != MICROVMI_OK) {
            /* Page by page from the failure on, zero-filling what cannot be read. */
            for (size_t off = done - done % PAGE; off < len; off += PAGE) {
                if (microvmi_read_physical(vm, at + off, buf + off, PAGE, NULL) != MICROVMI_OK) {
                    memset(buf + off, 0, PAGE);
                    holes++;
                }
            }
        }
        if (write_all(fd, buf, len, at) < 0) {
            fprintf(stderr, "microvmi: cannot write %s: %s\n", cli->out, strerror(errno));
            rc = CLI_FAILED;
        }
        if (tty)
            progress(at + len, total);
    }
    if (tty)
        fputc('\n', stderr);
    free(buf);
    if (close(fd) < 0 && rc == CLI_OK) {
        fprintf(stderr, "microvmi: cannot write %s: %s\n", cli->out, strerror(errno));
        rc = CLI_FAILED;
    }
    if (rc == CLI_OK && tty)
        fprintf(stderr, "dumped %" PRIu64 " bytes to %s (%" PRIu64 " unreadable pages as zeros)\n",
                total, cli->out, holes);
    return rc;
}
