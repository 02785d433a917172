/*
 * microvmi: inspect a VM through any compiled driver from the shell.
 *   microvmi drivers [--markdown]
 *   microvmi [--driver NAME] [--param K=V ...] COMMAND [ARGS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct cli_command commands[] = {
    { "drivers", "drivers [--markdown]", 0, 0, false, false, cmd_drivers },
    { "version", "version", 0, 0, false, false, cmd_version },
    { "info", "info", 0, 0, true, false, cmd_info },
    { "regs", "regs [--vcpu N]", 0, 0, true, true, cmd_regs },
    { "read-phys", "read-phys ADDR LEN", 2, 2, true, false, cmd_read_phys },
    { "read-virt", "read-virt CR3 ADDR LEN [--vcpu N] [--paging MODE]", 3, 3, true, true,
      cmd_read_virt },
    { "translate", "translate CR3 GVA [--vcpu N] [--paging MODE]", 2, 2, true, true, cmd_translate },
    { "dump", "dump --out FILE", 0, 0, true, false, cmd_dump },
    { "events", "events --kind K[,K...] [--count N]", 0, 0, true, false, cmd_events },
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *out)
{
    fprintf(out,
            "usage: microvmi [--driver NAME] [--param KEY=VALUE ...] COMMAND [ARGS]\n"
            "\n"
            "commands:\n");
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %s\n", commands[i].synopsis);
    fprintf(out,
            "\n"
            "Without --driver, every compiled driver that accepts the parameters is tried.\n"
            "Numbers are decimal or 0x hex; LEN takes K/M/G suffixes. MODE is one of\n"
            "none, 32bit, pae, 4level, 5level. Event kinds: cr, cr0, cr3, cr4, cr8, xcr, dr,\n"
            "msr, int3, exception, singlestep, descriptor, hypercall, cpuid, memory.\n"
            "`microvmi drivers` lists the drivers, their parameters and capabilities.\n"
            "Exit status: 0 done, 1 the operation failed, 2 bad command line.\n");
}

/* The value of an option: "--opt=V" or "--opt V". NULL when missing. */
static const char *option_value(int argc, char **argv, int *i, const char *name)
{
    size_t n = strlen(name);
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (*i + 1 < argc)
        return argv[++*i];
    return NULL;
}

static bool is_option(const char *arg, const char *name)
{
    size_t n = strlen(name);
    return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

static int parse(int argc, char **argv, struct cli *cli)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v;
        uint64_t n;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(CLI_OK);
        } else if (!strcmp(a, "--markdown")) {
            cli->markdown = true;
        } else if (is_option(a, "--driver")) {
            if (!(cli->driver = option_value(argc, argv, &i, "--driver")))
                return cli_usage_error("--driver needs a driver name");
        } else if (is_option(a, "--param")) {
            if (!(v = option_value(argc, argv, &i, "--param")) || !strchr(v, '='))
                return cli_usage_error("--param needs KEY=VALUE");
            if (cli->nparams == CLI_MAX_PARAMS)
                return cli_usage_error("too many --param (at most %d)", CLI_MAX_PARAMS);
            cli->params[cli->nparams++] = v;
        } else if (is_option(a, "--vcpu")) {
            if (!(v = option_value(argc, argv, &i, "--vcpu")) || !microvmi_parse_u64(v, &n) ||
                n >= UINT32_MAX)
                return cli_usage_error("--vcpu needs a vCPU number");
            cli->vcpu = (uint32_t)n;
        } else if (is_option(a, "--count")) {
            if (!(v = option_value(argc, argv, &i, "--count")) || !microvmi_parse_u64(v, &n) || !n)
                return cli_usage_error("--count needs a positive number");
            cli->count = n;
        } else if (is_option(a, "--out")) {
            if (!(cli->out = option_value(argc, argv, &i, "--out")) || !*cli->out)
                return cli_usage_error("--out needs a file name");
        } else if (is_option(a, "--kind")) {
            if (!(cli->kinds = option_value(argc, argv, &i, "--kind")) || !*cli->kinds)
                return cli_usage_error("--kind needs K[,K...]");
        } else if (is_option(a, "--paging")) {
            if (!(cli->paging = option_value(argc, argv, &i, "--paging")))
                return cli_usage_error("--paging needs a mode");
        } else if (a[0] == '-' && a[1] == '-') {
            return cli_usage_error("unknown option %s", a);
        } else if (!cli->command) {
            cli->command = a;
        } else {
            if (cli->nargs == CLI_MAX_ARGS)
                return cli_usage_error("too many arguments");
            cli->args[cli->nargs++] = a;
        }
    }
    return CLI_OK;
}

int main(int argc, char **argv)
{
    struct cli cli = { 0 };
    int rc = parse(argc, argv, &cli);
    if (rc != CLI_OK) {
        usage(stderr);
        return rc;
    }
    if (!cli.command) {
        usage(stderr);
        return CLI_USAGE;
    }
    const struct cli_command *cmd = NULL;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(commands[i].name, cli.command))
            cmd = &commands[i];
    if (!cmd) {
        cli_usage_error("unknown command '%s'", cli.command);
        usage(stderr);
        return CLI_USAGE;
    }
    if (cli.nargs < cmd->min_args || cli.nargs > cmd->max_args) {
        cli_usage_error("usage: microvmi %s", cmd->synopsis);
        return CLI_USAGE;
    }
    if (!cmd->needs_vm)
        return cmd->run(&cli, NULL);

    microvmi_t *vm = NULL;
    char *err = NULL;
    enum microvmi_status st = microvmi_init(cli.driver, cli.params, &vm, &err);
    if (st != MICROVMI_OK) {
        fprintf(stderr, "microvmi: cannot open the VM (%s): %s\n", microvmi_status_str(st),
                err ? err : "no details");
        free(err);
        return st == MICROVMI_INVALID_ARG || st == MICROVMI_NO_SUCH_DRIVER ? CLI_USAGE
                                                                             : CLI_FAILED;
    }
    bool paused = cmd->pauses_vm && (microvmi_capabilities(vm) & MICROVMI_CAP_PAUSE_RESUME) &&
                  microvmi_pause(vm) == MICROVMI_OK;
    rc = cmd->run(&cli, vm);
    if (paused && microvmi_resume(vm) != MICROVMI_OK)
        rc = cli_vm_error(vm, "resume");
    microvmi_destroy(vm);
    return rc;
}
