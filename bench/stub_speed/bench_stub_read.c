/* Read 64 MiB of guest memory three ways in one run and compare:
 *   driver API   microvmi_read_virtual in-process (the baseline)
 *   rsp client   'm' packets through microvmi-gdbstub (no-ack mode)
 *   gdb          `dump binary memory` through microvmi-gdbstub
 * Prints MB/s and the ratio of each to the baseline. Never asserts times. */
#include "microvmi.h"
#include "rsp.h"
#include "spawn.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MB (1024.0 * 1024.0)

int main(int argc, char **argv)
{
    size_t total = 64u << 20;
    if (argc > 1 && strcmp(argv[1], "--quick") == 0)
        total = 4u << 20;
    const uint64_t base = 0x1000000; /* 16 MiB: above the guest image */
    const char *params[] = { "mem=" BENCH_GUEST_MEM, NULL };
    const char *stub_extra[] = { "--param", "mem=" BENCH_GUEST_MEM, NULL };
    uint8_t *buf = malloc(total);
    if (!buf)
        return 1;

    /* 1. the driver API */
    microvmi_t *vm = NULL;
    char *err = NULL;
    if (microvmi_init("emu", params, &vm, &err) != MICROVMI_OK) {
        printf("skipped: the emu driver cannot start: %s\n", err ? err : "?");
        free(err);
        free(buf);
        return 0;
    }
    microvmi_pause(vm);
    struct microvmi_address_space as;
    microvmi_vcpu_address_space(vm, 0, &as);
    double t0 = now_s();
    size_t done = 0;
    enum microvmi_status st = microvmi_read_virtual(vm, &as, base, buf, total, &done);
    double api_s = now_s() - t0;
    microvmi_destroy(vm);
    if (st != MICROVMI_OK) {
        printf("driver API read failed after %zu bytes (guest memory too small?)\n", done);
        free(buf);
        return 1;
    }
    double api = (double)total / MB / api_s;

    /* 2. the rsp client through the stub */
    struct stub_proc sp;
    if (!stub_proc_start(&sp, BENCH_STUB_BIN, stub_extra)) {
        printf("could not start %s\n", BENCH_STUB_BIN);
        free(buf);
        return 1;
    }
    struct rsp_client *cli = NULL;
    char cerr[256];
    double rsp_rate = 0;
    if (rsp_client_connect(sp.addr, 10000, NULL, &cli, cerr, sizeof cerr) == RSP_OK) {
        rsp_client_start_noack(cli, 5000, NULL);
        struct rsp_buf reply = RSP_BUF_INIT;
        const size_t chunk = 0x20000; /* what the stub answers at most per m */
        t0 = now_s();
        size_t got = 0;
        while (got < total) {
            size_t n = total - got < chunk ? total - got : chunk;
            char req[64];
            snprintf(req, sizeof req, "m%" PRIx64 ",%zx", base + got, n);
            if (rsp_client_request_str(cli, req, &reply, 10000) != RSP_OK || reply.len < 2 ||
                reply.data[0] == 'E')
                break;
            rsp_hex_decode(buf + got, (const char *)reply.data, reply.len / 2);
            got += reply.len / 2;
        }
        double s = now_s() - t0;
        rsp_rate = (double)got / MB / s;
        if (got < total)
            printf("rsp client read stopped at %zu bytes\n", got);
        rsp_client_request_str(cli, "D", &reply, 5000);
        rsp_buf_free(&reply);
        rsp_client_close(cli);
    } else {
        printf("rsp client: %s\n", cerr);
    }
    stub_proc_stop(&sp);

    /* 3. gdb dump binary memory through the stub */
    double gdb_rate = 0;
    if (stub_proc_start(&sp, BENCH_STUB_BIN, stub_extra)) {
        char cmd[1024], out[64];
        snprintf(out, sizeof out, "/tmp/bench-stub-dump-%d.bin", (int)getpid());
        /* time only the dump: gdb prints the wall clock around it */
        snprintf(cmd, sizeof cmd,
                 "timeout 300 gdb -nx -batch -ex 'target remote %s' "
                 "-ex 'python import time; t=time.time()' "
                 "-ex 'dump binary memory %s %#" PRIx64 " %#" PRIx64 "' "
                 "-ex 'python print(\"DUMP_SECONDS=%%f\" %% (time.time()-t))' "
                 "-ex detach > %s.log 2>&1",
                 sp.addr, out, base, base + total, out);
        run_cmd(cmd);
        char logname[96], line[256];
        snprintf(logname, sizeof logname, "%s.log", out);
        FILE *f = fopen(logname, "r");
        double secs = 0;
        while (f && fgets(line, sizeof line, f))
            sscanf(line, "DUMP_SECONDS=%lf", &secs);
        if (f)
            fclose(f);
        FILE *d = fopen(out, "rb");
        long size = 0;
        if (d) {
            fseek(d, 0, SEEK_END);
            size = ftell(d);
            fclose(d);
        }
        if (secs > 0 && size == (long)total)
            gdb_rate = (double)total / MB / secs;
        else
            printf("gdb dump failed (see %s)\n", logname);
        unlink(out);
        if (gdb_rate > 0)
            unlink(logname);
        stub_proc_stop(&sp);
    }

    printf("read %zu MiB of guest memory (emu driver, from %#" PRIx64 ")\n", total >> 20, base);
    printf("  driver API (microvmi_read_virtual) %9.1f MB/s   1.00x\n", api);
    printf("  rsp client through the stub        %9.1f MB/s   %.2fx of the driver API\n",
           rsp_rate, rsp_rate / api);
    printf("  gdb dump binary memory via stub    %9.1f MB/s   %.2fx of the driver API\n",
           gdb_rate, gdb_rate / api);
    free(buf);
    return 0;
}
