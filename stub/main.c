/* microvmi-gdbstub: a GDB stub over any libmicrovmi driver. */
#include "cli.h"
#include "stub.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void exit_dump(struct stub *s)
{
    const struct stub_options *o = s->opt;
    if (!o->exit_dump_file || s->vm_gone)
        return;
    uint8_t *buf = malloc((size_t)o->exit_dump_len);
    FILE *f = fopen(o->exit_dump_file, "wb");
    size_t done = 0;
    if (buf && f) {
        microvmi_read_physical(s->vm, o->exit_dump_gpa, buf, (size_t)o->exit_dump_len, &done);
        fwrite(buf, 1, done, f);
    }
    if (f)
        fclose(f);
    free(buf);
    stub_log(s, 0, "wrote %zu bytes of guest memory as left at exit to %s", done,
             o->exit_dump_file);
}

int main(int argc, char **argv)
{
    struct stub_options opt;
    char err[512];
    switch (stub_cli_parse(argc, argv, &opt, err, sizeof err)) {
    case STUB_CLI_HELP:
        stub_cli_usage(stdout);
        return 0;
    case STUB_CLI_ERROR:
        fprintf(stderr, "microvmi-gdbstub: %s\n", err);
        stub_cli_usage(stderr);
        return 2;
    case STUB_CLI_RUN:
        break;
    }
    if (opt.list_drivers)
        return microvmi_print_driver_matrix(stdout, "text") == MICROVMI_OK ? 0 : 1;

    /* Signals arrive through a signalfd in the event loop (clean-up first). */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigprocmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    char spec[400];
    if (opt.listen == STUB_LISTEN_STDIO)
        snprintf(spec, sizeof spec, "stdio");
    else if (opt.listen == STUB_LISTEN_UNIX)
        snprintf(spec, sizeof spec, "unix:%s", opt.unix_path);
    else
        snprintf(spec, sizeof spec, "%s:%u", opt.host, opt.port);

    struct stub s = { .opt = &opt, .verbose = opt.verbose };
    if (rsp_listen(spec, &s.listener, err, sizeof err) != RSP_OK) {
        fprintf(stderr, "microvmi-gdbstub: cannot listen on %s: %s\n", spec, err);
        return 1;
    }
    char *ierr = NULL;
    enum microvmi_status st = microvmi_init(opt.driver, opt.params, &s.vm, &ierr);
    if (st != MICROVMI_OK) {
        fprintf(stderr, "microvmi-gdbstub: cannot open a VM with driver '%s': %s\n", opt.driver,
                ierr ? ierr : microvmi_status_str(st));
        free(ierr);
        rsp_listener_close(s.listener);
        return 1;
    }
    s.caps = microvmi_capabilities(s.vm);
    size_t ncaps;
    const struct microvmi_cap_info *caps = microvmi_capability_table(&ncaps);
    for (size_t i = 0; i < opt.nwithout; i++) {
        size_t k = 0;
        while (k < ncaps && strcmp(caps[k].name, opt.without[i]) != 0)
            k++;
        if (k == ncaps) {
            fprintf(stderr, "microvmi-gdbstub: --without %s: no such capability; names:",
                    opt.without[i]);
            for (k = 0; k < ncaps; k++)
                fprintf(stderr, " %s", caps[k].name);
            fputc('\n', stderr);
            microvmi_destroy(s.vm);
            rsp_listener_close(s.listener);
            return 2;
        }
        s.caps &= ~caps[k].bit;
    }
    if (microvmi_vcpu_count(s.vm, &s.nvcpus) != MICROVMI_OK || s.nvcpus == 0)
        s.nvcpus = 1;
    s.vcpus = calloc(s.nvcpus, sizeof *s.vcpus);
    if (!s.vcpus) {
        fprintf(stderr, "microvmi-gdbstub: out of memory\n");
        microvmi_destroy(s.vm);
        rsp_listener_close(s.listener);
        return 1;
    }
    fprintf(stderr, "microvmi-gdbstub: %s VM with %u vCPU%s; listening on %s\n",
            microvmi_driver_name(s.vm), s.nvcpus, s.nvcpus == 1 ? "" : "s",
            rsp_listener_address(s.listener));
    if (opt.listen != STUB_LISTEN_STDIO)
        fprintf(stderr, "microvmi-gdbstub: in gdb: target remote %s\n",
                rsp_listener_address(s.listener));
    fflush(stderr);

    int rc = stub_serve(&s);
    exit_dump(&s);

    free(s.vcpus);
    free(s.swbps);
    free(s.native_bps);
    for (size_t i = 0; i < s.nwatches; i++)
        free(s.watches[i].segs);
    free(s.watches);
    free(s.pages);
    free(s.membuf);
    rsp_buf_free(&s.reply);
    microvmi_destroy(s.vm);
    rsp_listener_close(s.listener);
    return rc;
}
