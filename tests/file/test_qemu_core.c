/*
 * The file driver against a real QEMU (TCG): QEMU runs its firmware (and,
 * when built, the bundled guest), is stopped, saves regions with pmemsave as
 * ground truth and an ELF core with dump-guest-memory; microvmi must read
 * the same bytes from the core and the registers HMP reports, per vCPU.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "qmp.h"
#include "test_file_common.h"

struct region {
    uint64_t addr, len;
};

static unsigned char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc(*len ? *len : 1);
    if (fread(buf, 1, *len, f) != *len) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

/* HMP "info registers" prints "NAME=hex"; false when absent. */
static bool hmp_value(const char *text, const char *name, uint64_t *out)
{
    char key[16];
    snprintf(key, sizeof key, "%s=", name);
    for (const char *p = strstr(text, key); p; p = strstr(p + 1, key)) {
        if (p != text && p[-1] != ' ' && p[-1] != '\n')
            continue;
        *out = strtoull(p + strlen(key), NULL, 16);
        return true;
    }
    return false;
}

static char *info_registers(struct qmp *q, int cpu)
{
    char cmd[256];
    snprintf(cmd, sizeof cmd,
             "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":"
             "\"info registers\",\"cpu-index\":%d}}", cpu);
    json_object *r = qmp_command(q, cmd);
    if (!r)
        fail_msg("%s", q->error);
    char *text = strdup(json_object_get_string(r));
    json_object_put(r);
    return text;
}

static void compare_registers(microvmi_t *vm, uint32_t vcpu, const char *hmp)
{
    struct microvmi_x86_regs r;
    if (microvmi_read_registers(vm, vcpu, &r) != MICROVMI_OK)
        fail_msg("vCPU %u: %s", vcpu, microvmi_last_error(vm));
    bool wide = strstr(hmp, "RIP=") != NULL;
    uint64_t v;
    assert_true(hmp_value(hmp, wide ? "RIP" : "EIP", &v));
    assert_int_equal(r.rip, v);
    assert_true(hmp_value(hmp, wide ? "RSP" : "ESP", &v));
    assert_int_equal(r.rsp, v);
    assert_true(hmp_value(hmp, wide ? "RAX" : "EAX", &v));
    assert_int_equal(r.rax, v);
    assert_true(hmp_value(hmp, "CR0", &v));
    assert_int_equal(r.cr0, v);
    assert_true(hmp_value(hmp, "CR3", &v));
    assert_int_equal(r.cr3, v);
    /* "CS =sel base limit flags" */
    const char *cs = strstr(hmp, "CS =");
    assert_non_null(cs);
    unsigned sel;
    unsigned long long base, limit, flags;
    assert_int_equal(sscanf(cs + 4, "%x %llx %llx %llx", &sel, &base, &limit, &flags), 4);
    assert_int_equal(r.cs.selector, sel);
    assert_int_equal(r.cs.base, base);
    assert_int_equal(r.cs.limit, limit);
    assert_int_equal(r.cs.attributes, ((flags >> 8) & 0xff) | (((flags >> 20) & 0xf) << 8));
}

/* Stop the VM, save the regions and the core, compare everything. Returns
 * the open core (caller destroys). */
static microvmi_t *dump_and_compare(struct qmp *q, const struct region *regions, size_t n,
                                    int vcpus, int expect_class)
{
    char cmd[512], path[256];
    if (!qmp_ok(q, "{\"execute\":\"stop\"}"))
        fail_msg("%s", q->error);
    for (size_t i = 0; i < n; i++) {
        snprintf(cmd, sizeof cmd,
                 "{\"execute\":\"pmemsave\",\"arguments\":{\"val\":%llu,\"size\":%llu,"
                 "\"filename\":\"%s/region%zu\"}}",
                 (unsigned long long)regions[i].addr, (unsigned long long)regions[i].len, q->dir,
                 i);
        if (!qmp_ok(q, cmd))
            fail_msg("%s", q->error);
    }
    char *hmp[8] = { 0 };
    for (int c = 0; c < vcpus; c++)
        hmp[c] = info_registers(q, c);
    snprintf(cmd, sizeof cmd,
             "{\"execute\":\"dump-guest-memory\",\"arguments\":{\"paging\":false,"
             "\"protocol\":\"file:%s/core\"}}", q->dir);
    if (!qmp_ok(q, cmd))
        fail_msg("%s", q->error);

    snprintf(path, sizeof path, "%s/core", q->dir);
    microvmi_t *vm = NULL;
    char *err = NULL;
    if (open_file(path, "auto", &vm, &err) != MICROVMI_OK)
        fail_msg("opening QEMU's core: %s", err);
    char desc[4096];
    assert_int_equal(microvmi_describe(vm, desc, sizeof desc), MICROVMI_OK);
    if (expect_class && !strstr(desc, expect_class == 64 ? "ELF64 core" : "ELF32 core"))
        fail_msg("expected an ELF%d core: %s", expect_class, desc);
    assert_non_null(strstr(desc, "QEMU CPU state"));
    uint32_t count;
    assert_int_equal(microvmi_vcpu_count(vm, &count), MICROVMI_OK);
    assert_int_equal(count, vcpus);

    bool nonzero = false; /* some region must hold data, or equality proves little */
    for (size_t i = 0; i < n; i++) {
        size_t len = 0;
        snprintf(path, sizeof path, "%s/region%zu", q->dir, i);
        unsigned char *truth = slurp(path, &len);
        assert_non_null(truth);
        assert_int_equal(len, regions[i].len);
        for (size_t k = 0; k < len && !nonzero; k++)
            nonzero = truth[k] != 0;
        unsigned char *got = malloc(len);
        size_t done = 0;
        if (microvmi_read_physical(vm, regions[i].addr, got, len, &done) != MICROVMI_OK)
            fail_msg("region 0x%llx: %s", (unsigned long long)regions[i].addr,
                     microvmi_last_error(vm));
        assert_memory_equal(got, truth, len);
        free(got);
        free(truth);
    }
    if (!nonzero)
        fail_msg("every saved region is all zeros: the comparison would prove nothing");
    for (int c = 0; c < vcpus; c++) {
        compare_registers(vm, (uint32_t)c, hmp[c]);
        free(hmp[c]);
    }
    return vm;
}

static bool have_qemu(void)
{
    return system("command -v qemu-system-x86_64 >/dev/null 2>&1") == 0;
}

/* SeaBIOS only: not in long mode, so QEMU writes i386 NT_PRSTATUS notes
 * (in an ELF64 file, because the BIOS ROM ends at 4 GiB). */
static void test_firmware_core(void **state)
{
    (void)state;
    struct qmp q;
    const char *args[] = { "-m", "32", "-smp", "2", NULL };
    if (!qmp_start(&q, args)) {
        qmp_stop(&q);
        fail_msg("%s", q.error);
    }
    qmp_sleep_ms(1000); /* let the firmware initialise memory and the APs */
    const struct region regions[] = {
        { 0x0, 0xa0000 },        /* IVT, BDA, EBDA, low RAM */
        { 0xf0000, 0x10000 },    /* the BIOS */
        { 0x1f00000, 0x100000 }, /* top of RAM: firmware tables */
    };
    microvmi_t *vm = dump_and_compare(&q, regions, 3, 2, 0);
    microvmi_destroy(vm);
    qmp_stop(&q);
}

/* The bundled guest in long mode: an ELF64 core, 4-level paging, identity
 * mapped: translate and read_virtual through the core's own page tables. */
static void test_guest_core(void **state)
{
    (void)state;
    if (access(MICROVMI_TEST_GUEST, R_OK) != 0) {
        print_message("guest part skipped: %s not built (target microvmi_guest)\n",
                      MICROVMI_TEST_GUEST);
        skip();
    }
    struct qmp q;
    const char *args[] = { "-m", "64", "-smp", "2", "-kernel", MICROVMI_TEST_GUEST, NULL };
    if (!qmp_start(&q, args)) {
        qmp_stop(&q);
        fail_msg("%s", q.error);
    }
    /* Wait for long mode on vCPU 0 (CR0.PG and a 64-bit register dump). */
    bool up = false;
    for (int i = 0; i < 300 && !up; i++) {
        char *hmp = info_registers(&q, 0);
        up = strstr(hmp, "RIP=") != NULL;
        free(hmp);
        if (!up)
            qmp_sleep_ms(100);
    }
    if (!up) {
        qmp_stop(&q);
        fail_msg("the guest never reached long mode");
    }
    qmp_sleep_ms(300);
    const struct region regions[] = { { 0x200000, 0x100000 } }; /* the guest image */
    microvmi_t *vm = dump_and_compare(&q, regions, 1, 2, 64);

    struct microvmi_address_space as;
    if (microvmi_vcpu_address_space(vm, 0, &as) != MICROVMI_OK)
        fail_msg("%s", microvmi_last_error(vm));
    assert_int_equal(as.mode, MICROVMI_PAGING_4LEVEL);
    struct microvmi_x86_regs r;
    assert_int_equal(microvmi_read_registers(vm, 0, &r), MICROVMI_OK);
    struct microvmi_translation tr;
    if (microvmi_translate(vm, &as, r.rip, &tr) != MICROVMI_OK)
        fail_msg("%s", microvmi_last_error(vm));
    assert_int_equal(tr.gpa, r.rip); /* identity mapped */
    unsigned char virt[64], phys[64];
    assert_int_equal(microvmi_read_virtual(vm, &as, 0x200000, virt, sizeof virt, NULL),
                     MICROVMI_OK);
    assert_int_equal(microvmi_read_physical(vm, 0x200000, phys, sizeof phys, NULL), MICROVMI_OK);
    assert_memory_equal(virt, phys, sizeof virt);
    microvmi_destroy(vm);
    qmp_stop(&q);
}

int main(void)
{
    if (!have_qemu()) {
        printf("skipped: qemu-system-x86_64 not installed (apt-get install qemu-system-x86)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_firmware_core),
        cmocka_unit_test(test_guest_core),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
