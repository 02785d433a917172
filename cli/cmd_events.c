/*
 * microvmi events --kind K[,K...] [--count N]: intercept the kinds on every
 * vCPU, print one JSON object per event, let the guest continue. Stops after
 * N events, on SIGINT/SIGTERM, or when the VM goes away.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_KINDS 16

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int parse_kinds(const char *list, struct microvmi_intercept *out, int *n)
{
    char *copy = strdup(list);
    if (!copy)
        return CLI_FAILED;
    int rc = CLI_OK;
    *n = 0;
    for (char *save, *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        enum microvmi_event_kind kind;
        if (*n == MAX_KINDS) {
            rc = cli_usage_error("--kind: at most %d kinds", MAX_KINDS);
            break;
        }
        if (microvmi_event_kind_parse(tok, &kind) != MICROVMI_OK || kind == MICROVMI_EVENT_PAUSED ||
            kind == MICROVMI_EVENT_SHUTDOWN || kind == MICROVMI_EVENT_BREAKPOINT ||
            kind == MICROVMI_EVENT_WATCHPOINT) {
            rc = cli_usage_error("--kind: '%s' is not an event kind to intercept (see --help)",
                                 tok);
            break;
        }
        uint32_t index = MICROVMI_ANY;
        if (kind == MICROVMI_EVENT_CR && tok[2])
            index = (uint32_t)strtoul(tok + 2, NULL, 10); /* "cr3" -> 3 */
        out[(*n)++] = (struct microvmi_intercept){ kind, index };
    }
    if (rc == CLI_OK && *n == 0)
        rc = cli_usage_error("--kind needs at least one kind");
    free(copy);
    return rc;
}

/* A guest's own int3 or exception must still reach the guest. */
static uint32_t response_for(const struct microvmi_event *ev)
{
    if (ev->kind == MICROVMI_EVENT_INT3 || ev->kind == MICROVMI_EVENT_EXCEPTION)
        return MICROVMI_RESPONSE_REINJECT;
    return MICROVMI_RESPONSE_CONTINUE;
}

int cmd_events(struct cli *cli, microvmi_t *vm)
{
    struct microvmi_intercept kinds[MAX_KINDS];
    int nkinds = 0;
    if (!cli->kinds)
        return cli_usage_error("events needs --kind K[,K...]");
    int rc = parse_kinds(cli->kinds, kinds, &nkinds);
    if (rc != CLI_OK)
        return rc;

    int enabled = 0;
    for (; enabled < nkinds; enabled++) {
        if (microvmi_toggle_intercept(vm, MICROVMI_ALL_VCPUS, &kinds[enabled], true) !=
            MICROVMI_OK) {
            rc = cli_vm_error(vm, "events");
            break;
        }
    }
    struct sigaction sa = { .sa_handler = on_signal };
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    uint64_t seen = 0;
    while (rc == CLI_OK && !stop_requested && (!cli->count || seen < cli->count)) {
        struct microvmi_event ev;
        /* A short timeout so a signal is noticed without racing listen(). */
        enum microvmi_status st = microvmi_listen(vm, 200, &ev);
        if (st == MICROVMI_TIMEOUT || st == MICROVMI_INTERRUPTED)
            continue;
        if (st == MICROVMI_VM_GONE)
            break;
        if (st != MICROVMI_OK) {
            rc = cli_vm_error(vm, "events");
            break;
        }
        char line[512];
        if (microvmi_event_to_json(&ev, line, sizeof line) == MICROVMI_OK)
            printf("%s\n", line);
        fflush(stdout);
        seen++;
        if (ev.kind == MICROVMI_EVENT_SHUTDOWN)
            break;
        struct microvmi_reply reply = { .flags = response_for(&ev) };
        if (microvmi_reply(vm, &ev, &reply) != MICROVMI_OK)
            rc = cli_vm_error(vm, "events: reply");
    }
    for (int i = 0; i < enabled; i++)
        microvmi_toggle_intercept(vm, MICROVMI_ALL_VCPUS, &kinds[i], false);
    return rc;
}
