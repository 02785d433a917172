/* Command-line options of microvmi-gdbstub. */
#ifndef STUB_CLI_H
#define STUB_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define STUB_MAX_PARAMS 32

enum stub_listen_kind { STUB_LISTEN_TCP, STUB_LISTEN_UNIX, STUB_LISTEN_STDIO };

struct stub_options {
    const char *driver;                          /* default "emu" */
    const char *params[STUB_MAX_PARAMS + 1];     /* NULL-terminated key=value */
    size_t nparams;
    enum stub_listen_kind listen;
    char host[256];
    uint16_t port;
    char unix_path[108];
    /* Capability names (microvmi_capability_table) to ignore, so every
     * fallback mechanism can be exercised on a driver that has the first
     * choice (e.g. --without event_singlestep steps with capstone). */
    const char *without[STUB_MAX_PARAMS];
    size_t nwithout;
    bool watch_lift;   /* --watch-mode lift (default emulate) */
    bool once;
    bool list_drivers;
    int verbose;
    /* Test aid: after clean-up at exit, write guest-physical [gpa, gpa+len)
     * as the VM was left to this file ("GPA:LEN:FILE"). */
    uint64_t exit_dump_gpa, exit_dump_len;
    const char *exit_dump_file;
};

enum stub_cli_result { STUB_CLI_RUN, STUB_CLI_HELP, STUB_CLI_ERROR };

/* Parse argv; on STUB_CLI_ERROR err holds a one-line reason. */
enum stub_cli_result stub_cli_parse(int argc, char *const *argv, struct stub_options *o,
                                    char *err, size_t errlen);
/* Parse a --listen value: "HOST:PORT", ":PORT", "PORT", "unix:PATH", "stdio". */
bool stub_cli_parse_listen(const char *v, struct stub_options *o);
void stub_cli_usage(FILE *out);

#endif
