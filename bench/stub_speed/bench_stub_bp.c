/* Breakpoint round trips per second through microvmi-gdbstub, with a
 * breakpoint on guest_tick (every vCPU calls it in a tight loop):
 *   rsp client  hit -> stop reply -> (z0, step, Z0, as gdb does) -> c
 *   gdb         a Python breakpoint whose stop() returns False (gdb resumes)
 * and, as the baseline, the same hit/continue cycle on the driver API
 * in-process (int3 event -> reply), measured in the same run. */
#include "microvmi.h"
#include "rsp.h"
#include "spawn.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint64_t symbol(const char *name)
{
    char cmd[512], line[256];
    snprintf(cmd, sizeof cmd, "nm %s", BENCH_GUEST);
    FILE *p = popen(cmd, "r");
    uint64_t v = 0;
    while (p && fgets(line, sizeof line, p)) {
        char sym[128], t;
        unsigned long long a;
        if (sscanf(line, "%llx %c %127s", &a, &t, sym) == 3 && strcmp(sym, name) == 0)
            v = a;
    }
    if (p)
        pclose(p);
    return v;
}

/* Baseline: int3 event -> step over (unplant, singlestep, plant) -> continue,
 * straight on the API. */
static double api_rate(uint64_t tick, double seconds)
{
    microvmi_t *vm = NULL;
    char *err = NULL;
    if (microvmi_init("emu", NULL, &vm, &err) != MICROVMI_OK) {
        printf("emu: %s\n", err ? err : "?");
        free(err);
        return 0;
    }
    uint8_t orig, cc = 0xcc;
    microvmi_read_physical(vm, tick, &orig, 1, NULL);
    struct microvmi_intercept int3 = { MICROVMI_EVENT_INT3, MICROVMI_ANY };
    struct microvmi_intercept ss = { MICROVMI_EVENT_SINGLESTEP, MICROVMI_ANY };
    microvmi_toggle_intercept(vm, MICROVMI_ALL_VCPUS, &int3, true);
    microvmi_write_physical(vm, tick, &cc, 1, NULL);
    uint64_t hits = 0;
    double t0 = now_s();
    while (now_s() - t0 < seconds) {
        struct microvmi_event ev;
        if (microvmi_listen(vm, 1000, &ev) != MICROVMI_OK)
            break;
        struct microvmi_reply r = { .flags = MICROVMI_RESPONSE_CONTINUE };
        if (ev.kind == MICROVMI_EVENT_INT3 && ev.rip == tick) {
            hits++;
            microvmi_pause(vm);
            microvmi_write_physical(vm, tick, &orig, 1, NULL);
            microvmi_toggle_intercept(vm, ev.vcpu, &ss, true);
            microvmi_reply(vm, &ev, &r);
            microvmi_resume(vm);
            /* wait for that vCPU's step */
            struct microvmi_event se;
            for (;;) {
                if (microvmi_listen(vm, 1000, &se) != MICROVMI_OK)
                    break;
                if (se.kind == MICROVMI_EVENT_SINGLESTEP && se.vcpu == ev.vcpu) {
                    microvmi_toggle_intercept(vm, se.vcpu, &ss, false);
                    microvmi_write_physical(vm, tick, &cc, 1, NULL);
                    microvmi_reply(vm, &se, &r);
                    break;
                }
                microvmi_reply(vm, &se, &r); /* another vCPU's int3: retried */
            }
        } else {
            if (ev.kind == MICROVMI_EVENT_INT3)
                r.flags = MICROVMI_RESPONSE_REINJECT;
            microvmi_reply(vm, &ev, &r);
        }
    }
    double s = now_s() - t0;
    microvmi_write_physical(vm, tick, &orig, 1, NULL);
    microvmi_destroy(vm);
    return (double)hits / s;
}

static double rsp_rate(uint64_t tick, double seconds)
{
    struct stub_proc sp;
    if (!stub_proc_start(&sp, BENCH_STUB_BIN, NULL))
        return 0;
    struct rsp_client *cli = NULL;
    char cerr[256];
    double rate = 0;
    if (rsp_client_connect(sp.addr, 10000, NULL, &cli, cerr, sizeof cerr) == RSP_OK) {
        rsp_client_start_noack(cli, 5000, NULL);
        struct rsp_buf r = RSP_BUF_INIT;
        char z[64], unz[64];
        snprintf(z, sizeof z, "Z0,%" PRIx64 ",1", tick);
        snprintf(unz, sizeof unz, "z0,%" PRIx64 ",1", tick);
        rsp_client_request_str(cli, z, &r, 5000);
        uint64_t hits = 0;
        double t0 = now_s();
        while (now_s() - t0 < seconds) {
            rsp_client_send(cli, "vCont;c", 7);
            if (rsp_client_wait_stop(cli, &r, 10000) != RSP_OK)
                break;
            hits++;
            const char *th = strstr((const char *)r.data, "thread:");
            unsigned t = th ? (unsigned)strtoul(th + 7, NULL, 16) : 1;
            char step[32];
            snprintf(step, sizeof step, "vCont;s:%x", t);
            rsp_client_request_str(cli, unz, &r, 5000);
            rsp_client_send(cli, step, strlen(step));
            if (rsp_client_wait_stop(cli, &r, 10000) != RSP_OK)
                break;
            rsp_client_request_str(cli, z, &r, 5000);
        }
        rate = (double)hits / (now_s() - t0);
        rsp_client_request_str(cli, "D", &r, 5000);
        rsp_buf_free(&r);
        rsp_client_close(cli);
    } else {
        printf("rsp client: %s\n", cerr);
    }
    stub_proc_stop(&sp);
    return rate;
}

static double gdb_rate(double seconds)
{
    struct stub_proc sp;
    if (!stub_proc_start(&sp, BENCH_STUB_BIN, NULL))
        return 0;
    char script[96], logname[96], cmd[1024], line[256];
    snprintf(script, sizeof script, "/tmp/bench-stub-bp-%d.py", (int)getpid());
    snprintf(logname, sizeof logname, "/tmp/bench-stub-bp-%d.log", (int)getpid());
    FILE *f = fopen(script, "w");
    if (!f)
        return 0;
    fprintf(f, "import gdb, time\n"
               "class B(gdb.Breakpoint):\n"
               "    def stop(self):\n"
               "        if self.t0 is None: self.t0 = time.time()\n"
               "        self.n += 1\n"
               "        return time.time() - self.t0 > %f\n"
               "b = B('guest_tick'); b.n = 0; b.t0 = None\n"
               "gdb.execute('continue')\n"
               "print('GDB_HITS_PER_S=%%f' %% ((b.n - 1) / (time.time() - b.t0)))\n"
               "b.delete(); gdb.execute('detach')\n",
            seconds);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "timeout 300 gdb -nx -batch -ex 'file %s' -ex 'target remote %s' -x %s > %s 2>&1",
             BENCH_GUEST, sp.addr, script, logname);
    run_cmd(cmd);
    double rate = 0;
    f = fopen(logname, "r");
    while (f && fgets(line, sizeof line, f))
        sscanf(line, "GDB_HITS_PER_S=%lf", &rate);
    if (f)
        fclose(f);
    unlink(script);
    if (rate > 0)
        unlink(logname);
    else
        printf("gdb run failed (see %s)\n", logname);
    stub_proc_stop(&sp);
    return rate;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 && strcmp(argv[1], "--quick") == 0 ? 0.5 : 3.0;
    uint64_t tick = symbol("guest_tick");
    if (!tick) {
        printf("skipped: no guest_tick in %s\n", BENCH_GUEST);
        return 0;
    }
    double api = api_rate(tick, secs);
    double rsp = rsp_rate(tick, secs);
    double gdb = gdb_rate(secs);
    printf("breakpoint round trips on guest_tick (emu driver, %.1f s each)\n", secs);
    printf("  driver API in-process (event, step over, reply) %9.0f /s   1.00x\n", api);
    printf("  rsp client through the stub (c, z0, s, Z0)      %9.0f /s   %.2fx\n", rsp,
           api > 0 ? rsp / api : 0);
    printf("  gdb, Python stop() -> False, through the stub   %9.0f /s   %.2fx\n", gdb,
           api > 0 ? gdb / api : 0);
    return 0;
}
