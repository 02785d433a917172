/* microvmi read-phys | read-virt | translate */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

#define MAX_HEXDUMP (64u << 20)

static int alloc_len(const char *text, unsigned char **buf, size_t *len)
{
    uint64_t n;
    if (cli_arg_u64(text, "LEN", &n) != CLI_OK)
        return CLI_USAGE;
    if (n == 0 || n > MAX_HEXDUMP)
        return cli_usage_error("LEN must be 1..%u bytes (use `dump` for more)", MAX_HEXDUMP);
    *len = (size_t)n;
    *buf = malloc(*len);
    if (!*buf) {
        fprintf(stderr, "microvmi: out of memory for %zu bytes\n", *len);
        return CLI_FAILED;
    }
    return CLI_OK;
}

int cmd_read_phys(struct cli *cli, microvmi_t *vm)
{
    uint64_t addr;
    unsigned char *buf;
    size_t len, done = 0;
    int rc = cli_arg_u64(cli->args[0], "ADDR", &addr);
    if (rc != CLI_OK || (rc = alloc_len(cli->args[1], &buf, &len)) != CLI_OK)
        return rc;
    enum microvmi_status st = microvmi_read_physical(vm, addr, buf, len, &done);
    cli_hexdump(addr, buf, done);
    free(buf);
    return st == MICROVMI_OK ? CLI_OK : cli_vm_error(vm, "read-phys");
}

int cmd_read_virt(struct cli *cli, microvmi_t *vm)
{
    uint64_t cr3, addr;
    unsigned char *buf;
    size_t len, done = 0;
    struct microvmi_address_space as;
    int rc = cli_arg_u64(cli->args[0], "CR3", &cr3);
    if (rc == CLI_OK)
        rc = cli_arg_u64(cli->args[1], "ADDR", &addr);
    if (rc == CLI_OK)
        rc = cli_address_space(cli, vm, cr3, &as);
    if (rc != CLI_OK || (rc = alloc_len(cli->args[2], &buf, &len)) != CLI_OK)
        return rc;
    enum microvmi_status st = microvmi_read_virtual(vm, &as, addr, buf, len, &done);
    cli_hexdump(addr, buf, done);
    free(buf);
    return st == MICROVMI_OK ? CLI_OK : cli_vm_error(vm, "read-virt");
}

static const char *mode_name(enum microvmi_paging_mode m)
{
    switch (m) {
    case MICROVMI_PAGING_NONE: return "none";
    case MICROVMI_PAGING_32BIT: return "32bit";
    case MICROVMI_PAGING_PAE: return "pae";
    case MICROVMI_PAGING_4LEVEL: return "4level";
    case MICROVMI_PAGING_5LEVEL: return "5level";
    }
    return "?";
}

int cmd_translate(struct cli *cli, microvmi_t *vm)
{
    uint64_t cr3, gva;
    struct microvmi_address_space as;
    int rc = cli_arg_u64(cli->args[0], "CR3", &cr3);
    if (rc == CLI_OK)
        rc = cli_arg_u64(cli->args[1], "GVA", &gva);
    if (rc == CLI_OK)
        rc = cli_address_space(cli, vm, cr3, &as);
    if (rc != CLI_OK)
        return rc;
    struct microvmi_translation tr;
    if (microvmi_translate(vm, &as, gva, &tr) != MICROVMI_OK)
        return cli_vm_error(vm, "translate");
    const char *unit = tr.page_size >= (1u << 30) ? "GiB" : tr.page_size >= (1u << 20) ? "MiB"
                                                                                      : "KiB";
    uint64_t size = tr.page_size >> (tr.page_size >= (1u << 30) ? 30
                                     : tr.page_size >= (1u << 20) ? 20 : 10);
    printf("gva 0x%" PRIx64 " -> gpa 0x%" PRIx64 " (%" PRIu64 " %s page, %s, %s, %s; paging %s)\n",
           gva, tr.gpa, size, unit, tr.writable ? "writable" : "read-only",
           tr.user ? "user" : "supervisor", tr.nx ? "no-execute" : "executable",
           mode_name(as.mode));
    for (unsigned i = 0; i < tr.levels && i < 5; i++)
        printf("  entry[%u] 0x%016" PRIx64 "\n", i, tr.entries[i]);
    return CLI_OK;
}
