/* Command-line parsing, separate from main() so tests can drive it. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void stub_cli_usage(FILE *out)
{
    fputs("usage: microvmi-gdbstub [--driver NAME] [--param K=V]...\n"
          "                        [--listen HOST:PORT | unix:PATH | stdio] [--once]\n"
          "                        [--list-drivers] [-v]\n"
          "  --driver NAME    libmicrovmi driver (default: emu, which boots the bundled guest)\n"
          "  --param K=V      driver parameter, repeatable (e.g. kernel=PATH vcpus=2)\n"
          "  --listen ADDR    where gdb connects (default 127.0.0.1:1234); 'stdio' for\n"
          "                   gdb's  target remote | microvmi-gdbstub --listen stdio\n"
          "  --once           exit after the first client leaves (default: serve the next)\n"
          "  --list-drivers   print the drivers' capability matrix and exit\n"
          "  -v               log packets and events to stderr (repeat for more)\n"
          "  --without CAP    ignore one driver capability (e.g. event_singlestep), to use\n"
          "                   the next mechanism; --exit-dump GPA:LEN:FILE (tests)\n"
          "  --watch-mode M   emulate (default: the driver performs a watched page's\n"
          "                   other accesses) or lift (lift permissions, step alone)\n"
          "then in gdb:  target remote :1234   and  monitor help\n",
          out);
}

static bool parse_port(const char *s, uint16_t *port)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno || end == s || *end || v > 65535)
        return false;
    *port = (uint16_t)v;
    return true;
}

bool stub_cli_parse_listen(const char *v, struct stub_options *o)
{
    if (strcmp(v, "stdio") == 0) {
        o->listen = STUB_LISTEN_STDIO;
        return true;
    }
    if (strncmp(v, "unix:", 5) == 0) {
        size_t n = strlen(v + 5);
        if (n == 0 || n >= sizeof o->unix_path)
            return false;
        memcpy(o->unix_path, v + 5, n + 1);
        o->listen = STUB_LISTEN_UNIX;
        return true;
    }
    const char *colon = strrchr(v, ':');
    const char *port = colon ? colon + 1 : v;
    if (!parse_port(port, &o->port))
        return false;
    if (colon) {
        size_t n = (size_t)(colon - v);
        if (n >= sizeof o->host)
            return false;
        if (n) {
            memcpy(o->host, v, n);
            o->host[n] = '\0';
        }
    }
    o->listen = STUB_LISTEN_TCP;
    return true;
}

static bool parse_exit_dump(const char *v, struct stub_options *o)
{
    char *end;
    errno = 0;
    o->exit_dump_gpa = strtoull(v, &end, 0);
    if (errno || *end != ':')
        return false;
    o->exit_dump_len = strtoull(end + 1, &end, 0);
    if (errno || *end != ':' || !end[1] || o->exit_dump_len == 0 ||
        o->exit_dump_len > (1ull << 30))
        return false;
    o->exit_dump_file = end + 1;
    return true;
}

enum stub_cli_result stub_cli_parse(int argc, char *const *argv, struct stub_options *o,
                                    char *err, size_t errlen)
{
    memset(o, 0, sizeof *o);
    o->driver = "emu";
    o->listen = STUB_LISTEN_TCP;
    strcpy(o->host, "127.0.0.1");
    o->port = 1234;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        /* options that take a value accept "--opt V" and "--opt=V" */
        const char *names[] = { "--driver", "--param", "--listen", "--exit-dump", "--without",
                                "--watch-mode" };
        for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
            size_t n = strlen(names[k]);
            if (strncmp(a, names[k], n) == 0 && (a[n] == '=' || a[n] == '\0')) {
                if (a[n] == '=') {
                    val = a + n + 1;
                } else if (i + 1 < argc) {
                    val = argv[++i];
                } else {
                    snprintf(err, errlen, "%s needs a value", names[k]);
                    return STUB_CLI_ERROR;
                }
                a = names[k];
                break;
            }
        }
        if (strcmp(a, "--driver") == 0 && val) {
            if (!*val) {
                snprintf(err, errlen, "--driver needs a name (see --list-drivers)");
                return STUB_CLI_ERROR;
            }
            o->driver = val;
        } else if (strcmp(a, "--param") == 0 && val) {
            if (!strchr(val, '=') || val[0] == '=') {
                snprintf(err, errlen, "--param wants KEY=VALUE, got '%s'", val);
                return STUB_CLI_ERROR;
            }
            if (o->nparams == STUB_MAX_PARAMS) {
                snprintf(err, errlen, "at most %d --param options", STUB_MAX_PARAMS);
                return STUB_CLI_ERROR;
            }
            o->params[o->nparams++] = val;
        } else if (strcmp(a, "--listen") == 0 && val) {
            if (!stub_cli_parse_listen(val, o)) {
                snprintf(err, errlen,
                         "--listen wants HOST:PORT, :PORT, unix:PATH or stdio, got '%s'", val);
                return STUB_CLI_ERROR;
            }
        } else if (strcmp(a, "--exit-dump") == 0 && val) {
            if (!parse_exit_dump(val, o)) {
                snprintf(err, errlen, "--exit-dump wants GPA:LEN:FILE, got '%s'", val);
                return STUB_CLI_ERROR;
            }
        } else if (strcmp(a, "--without") == 0 && val) {
            if (o->nwithout == STUB_MAX_PARAMS || !*val) {
                snprintf(err, errlen, "--without wants a capability name (see --list-drivers)");
                return STUB_CLI_ERROR;
            }
            o->without[o->nwithout++] = val;
        } else if (strcmp(a, "--watch-mode") == 0 && val) {
            if (strcmp(val, "emulate") != 0 && strcmp(val, "lift") != 0) {
                snprintf(err, errlen, "--watch-mode wants emulate or lift, got '%s'", val);
                return STUB_CLI_ERROR;
            }
            o->watch_lift = strcmp(val, "lift") == 0;
        } else if (strcmp(a, "--once") == 0) {
            o->once = true;
        } else if (strcmp(a, "--list-drivers") == 0) {
            o->list_drivers = true;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            o->verbose++;
        } else if (strcmp(a, "-vv") == 0) {
            o->verbose += 2;
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            return STUB_CLI_HELP;
        } else {
            snprintf(err, errlen, "unknown option '%s'", argv[i]);
            return STUB_CLI_ERROR;
        }
    }
    o->params[o->nparams] = NULL;
    return STUB_CLI_RUN;
}
