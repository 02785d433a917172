/* The rsp client against QEMU's own gdbstub (the peer the qemu driver
 * talks to): qSupported, no-ack negotiation, stop reason, registers, m/M/X
 * with escaped bytes, continue, 0x03 interrupt, kill. Skipped without QEMU. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rsp.h"

static const char *qemu_bin = "qemu-system-x86_64";

static bool have_qemu(void)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", qemu_bin);
    return system(cmd) == 0;
}

static pid_t start_qemu(const char *sock)
{
    char gdbarg[200];
    snprintf(gdbarg, sizeof gdbarg, "unix:%s,server=on,wait=off", sock);
    pid_t pid = fork();
    if (pid == 0) {
        /* stdout is not ours to hold open: a test runner may wait on it */
        freopen("/dev/null", "w", stdout);
        execlp(qemu_bin, qemu_bin, "-nodefaults", "-display", "none", "-S", "-m", "64",
               "-machine", "pc", "-accel", "tcg", "-serial", "none", "-monitor", "none",
               "-gdb", gdbarg, (char *)NULL);
        _exit(127);
    }
    return pid;
}

static struct rsp_client *connect_retry(const char *spec)
{
    char err[256];
    struct rsp_client *cli = NULL;
    for (int i = 0; i < 200; i++) { /* QEMU takes a moment to create the socket */
        if (rsp_client_connect(spec, 2000, NULL, &cli, err, sizeof err) == RSP_OK)
            return cli;
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    print_message("connect %s: %s\n", spec, err);
    return NULL;
}

/* A failed assertion must not leave QEMU running. */
static int teardown(void **state)
{
    pid_t *pid = *state;
    if (*pid > 0 && waitpid(*pid, NULL, WNOHANG) == 0) {
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
    }
    free(pid);
    return 0;
}

static int setup(void **state)
{
    pid_t *pid = calloc(1, sizeof *pid);
    *state = pid;
    return pid ? 0 : -1;
}

static void qemu_gdbstub_session(void **state)
{
    pid_t *qemu = *state;
    char sock[96], spec[110];
    snprintf(sock, sizeof sock, "/tmp/rsp-qemu-%d.sock", (int)getpid());
    snprintf(spec, sizeof spec, "unix:%s", sock);
    unlink(sock);
    pid_t pid = start_qemu(sock);
    assert_true(pid > 0);
    *qemu = pid;
    struct rsp_client *cli = connect_retry(spec);
    assert_non_null(cli);
    struct rsp_buf r = RSP_BUF_INIT;
    const int t = 10000;

    assert_int_equal(rsp_client_request_str(cli, "qSupported:multiprocess+;swbreak+;hwbreak+;"
                                            "xmlRegisters=i386", &r, t), RSP_OK);
    assert_non_null(strstr((char *)r.data, "PacketSize="));
    /* QEMU 7.2 has no no-ack mode (it answers ""): we stay in ack mode */
    bool offered = strstr((char *)r.data, "QStartNoAckMode+") != NULL, noack = !offered;
    assert_int_equal(rsp_client_start_noack(cli, t, &noack), RSP_OK);
    assert_int_equal(noack, offered);
    assert_int_equal(rsp_conn_noack(rsp_client_conn(cli)), offered);
    assert_int_equal(rsp_client_request_str(cli, "?", &r, t), RSP_OK);
    assert_true(r.len >= 3 && r.data[0] == 'T');
    assert_int_equal(rsp_client_request_str(cli, "g", &r, t), RSP_OK);
    assert_true(r.len >= 16 * 16);
    /* memory: plain hex write, binary write with every escaped byte */
    assert_int_equal(rsp_client_request_str(cli, "M1000,4:deadbeef", &r, t), RSP_OK);
    assert_string_equal((char *)r.data, "OK");
    assert_int_equal(rsp_client_request_str(cli, "m1000,4", &r, t), RSP_OK);
    assert_string_equal((char *)r.data, "deadbeef");
    const uint8_t bin[] = {'X', '1', '0', '0', '4', ',', '5', ':', '#', '$', '}', '*', 0x03};
    assert_int_equal(rsp_client_request(cli, bin, sizeof bin, &r, t), RSP_OK);
    if (r.len == 0) {
        print_message("this QEMU has no X packet; binary write part not run\n");
    } else {
        assert_string_equal((char *)r.data, "OK");
        assert_int_equal(rsp_client_request_str(cli, "m1004,5", &r, t), RSP_OK);
        assert_string_equal((char *)r.data, "23247d2a03");
    }
    /* a binary qXfer reply, read in pieces until 'l' (last) */
    size_t off = 0, xml_len = 0;
    bool last = false;
    for (int i = 0; i < 64 && !last; i++) {
        char q[80];
        snprintf(q, sizeof q, "qXfer:features:read:target.xml:%zx,200", off);
        assert_int_equal(rsp_client_request_str(cli, q, &r, t), RSP_OK);
        assert_true(r.len >= 1 && (r.data[0] == 'm' || r.data[0] == 'l'));
        last = r.data[0] == 'l';
        if (off == 0)
            assert_non_null(strstr((char *)r.data, "<?xml"));
        off += r.len - 1;
        xml_len += r.len - 1;
    }
    assert_true(last);
    assert_true(xml_len > 100);
    /* a 2 KiB read, hex-decoded */
    assert_int_equal(rsp_client_request_str(cli, "m0,800", &r, t), RSP_OK);
    assert_int_equal(r.len, 0x1000);
    uint8_t mem[0x800];
    assert_true(rsp_hex_decode(mem, (char *)r.data, sizeof mem));
    /* continue, nothing while running, interrupt, stop reply */
    assert_int_equal(rsp_client_send(cli, "c", 1), RSP_OK);
    assert_int_equal(rsp_client_wait_stop(cli, &r, 300), RSP_ERR_TIMEOUT);
    assert_int_equal(rsp_client_interrupt(cli), RSP_OK);
    assert_int_equal(rsp_client_wait_stop(cli, &r, t), RSP_OK);
    assert_true(r.data[0] == 'T' || r.data[0] == 'S');
    /* kill: QEMU exits, the client sees the hang-up */
    rsp_client_send(cli, "k", 1);
    int status = 0;
    for (int i = 0; i < 100 && waitpid(pid, &status, WNOHANG) == 0; i++) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
        if (i == 99) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fail_msg("QEMU did not exit on 'k'");
        }
    }
    *qemu = 0;
    rsp_buf_free(&r);
    rsp_client_close(cli);
    unlink(sock);
}

int main(void)
{
    if (!have_qemu()) {
        printf("skipped: %s not installed\n", qemu_bin);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(qemu_gdbstub_session, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
