/* CLI helpers: messages and exit codes, numbers, hexdump, address spaces. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("microvmi: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return CLI_USAGE;
}

int cli_vm_error(microvmi_t *vm, const char *what)
{
    fprintf(stderr, "microvmi: %s: %s\n", what, microvmi_last_error(vm));
    return CLI_FAILED;
}

int cli_arg_u64(const char *text, const char *what, uint64_t *out)
{
    if (!microvmi_parse_u64(text, out))
        return cli_usage_error("%s '%s' is not a number (decimal or 0x hex)", what, text);
    return CLI_OK;
}

void cli_hexdump(uint64_t addr, const unsigned char *buf, size_t len)
{
    for (size_t off = 0; off < len; off += 16) {
        printf("%016llx ", (unsigned long long)(addr + off));
        for (size_t i = 0; i < 16; i++) {
            if (off + i < len)
                printf(" %02x", buf[off + i]);
            else
                printf("   ");
            if (i == 7)
                putchar(' ');
        }
        printf("  |");
        for (size_t i = 0; i < 16 && off + i < len; i++)
            putchar(isprint(buf[off + i]) ? buf[off + i] : '.');
        printf("|\n");
    }
}

static const struct {
    const char *name;
    enum microvmi_paging_mode mode;
} paging_names[] = {
    { "none", MICROVMI_PAGING_NONE }, { "32bit", MICROVMI_PAGING_32BIT },
    { "pae", MICROVMI_PAGING_PAE },   { "4level", MICROVMI_PAGING_4LEVEL },
    { "5level", MICROVMI_PAGING_5LEVEL },
};

/* The vCPU's paging mode when the driver knows it, else 4-level, with the
 * CR3 given on the command line; --paging overrides the mode. */
int cli_address_space(struct cli *cli, microvmi_t *vm, uint64_t cr3,
                      struct microvmi_address_space *as)
{
    struct microvmi_address_space vcpu_as;
    if (microvmi_vcpu_address_space(vm, cli->vcpu, &vcpu_as) == MICROVMI_OK &&
        vcpu_as.mode != MICROVMI_PAGING_NONE)
        *as = vcpu_as;
    else
        *as = (struct microvmi_address_space){ .mode = MICROVMI_PAGING_4LEVEL, .nxe = true };
    as->cr3 = cr3;
    if (cli->paging) {
        size_t i, n = sizeof paging_names / sizeof paging_names[0];
        for (i = 0; i < n && strcmp(paging_names[i].name, cli->paging); i++)
            ;
        if (i == n)
            return cli_usage_error("--paging %s: give none, 32bit, pae, 4level or 5level",
                                   cli->paging);
        as->mode = paging_names[i].mode;
        as->pse = true;
        as->nxe = true;
    }
    return CLI_OK;
}
