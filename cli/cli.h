/* The microvmi CLI: parsed options and one function per subcommand. */
#ifndef MICROVMI_CLI_H
#define MICROVMI_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "microvmi.h"

#define CLI_MAX_PARAMS 32
#define CLI_MAX_ARGS 8

/* Exit codes: 0 done, 1 the VM operation failed, 2 bad command line. */
enum { CLI_OK = 0, CLI_FAILED = 1, CLI_USAGE = 2 };

struct cli {
    const char *driver;                   /* NULL: auto-detect */
    const char *params[CLI_MAX_PARAMS + 1];
    int nparams;
    const char *command;
    const char *args[CLI_MAX_ARGS];
    int nargs;
    uint32_t vcpu;
    bool markdown;
    const char *out;
    const char *kinds;
    uint64_t count;                       /* events: 0 = until interrupted */
    const char *paging;                   /* read-virt/translate: override the mode */
};

struct cli_command {
    const char *name;
    const char *synopsis;
    int min_args, max_args;
    bool needs_vm;
    /* Reads vCPU state: the VM is paused around it when the driver can pause,
     * because drivers refuse register reads of a running vCPU. */
    bool pauses_vm;
    int (*run)(struct cli *cli, microvmi_t *vm);
};

/* Helpers (util.c). */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int cli_vm_error(microvmi_t *vm, const char *what);
int cli_arg_u64(const char *text, const char *what, uint64_t *out);
void cli_hexdump(uint64_t addr, const unsigned char *buf, size_t len);
int cli_address_space(struct cli *cli, microvmi_t *vm, uint64_t cr3,
                      struct microvmi_address_space *as);

/* Subcommands. */
int cmd_version(struct cli *cli, microvmi_t *vm);
int cmd_drivers(struct cli *cli, microvmi_t *vm);
int cmd_info(struct cli *cli, microvmi_t *vm);
int cmd_regs(struct cli *cli, microvmi_t *vm);
int cmd_read_phys(struct cli *cli, microvmi_t *vm);
int cmd_read_virt(struct cli *cli, microvmi_t *vm);
int cmd_translate(struct cli *cli, microvmi_t *vm);
int cmd_dump(struct cli *cli, microvmi_t *vm);
int cmd_events(struct cli *cli, microvmi_t *vm);

#endif /* MICROVMI_CLI_H */
