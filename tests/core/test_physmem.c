/*
 * Core behaviour against a fake driver: page splitting of physical
 * reads/writes with partial counts, NULL ops answered NOT_SUPPORTED with a
 * message, driver messages kept, parameters checked, close on destroy.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "handle.h"

#define PAGES 6
#define HOLE 4 /* gfn 4 is not backed */

struct fake {
    unsigned char mem[PAGES * 4096];
    size_t calls;
    bool crossed; /* a driver op saw a range crossing a page */
    int *closed;
};

static int closed_count;

static enum microvmi_status fake_open(microvmi_t *vm, const struct microvmi_params *p, void **ctx)
{
    if (microvmi_param(p, "fail"))
        return microvmi_fail(vm, MICROVMI_INIT_FAILED, "fake refuses: remove fail=");
    struct fake *f = calloc(1, sizeof *f);
    for (size_t i = 0; i < sizeof f->mem; i++)
        f->mem[i] = (unsigned char)(i * 7 + i / 4096);
    f->closed = &closed_count;
    *ctx = f;
    return MICROVMI_OK;
}

static void fake_close(void *ctx)
{
    struct fake *f = ctx;
    (*f->closed)++;
    free(f);
}

static enum microvmi_status check(struct fake *f, uint64_t gpa, size_t len)
{
    f->calls++;
    if (len == 0 || (gpa >> 12) != ((gpa + len - 1) >> 12))
        f->crossed = true;
    if ((gpa >> 12) == HOLE || gpa >= sizeof f->mem)
        return MICROVMI_NO_MEMORY_AT_ADDRESS;
    return MICROVMI_OK;
}

static enum microvmi_status fake_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    struct fake *f = ctx;
    enum microvmi_status st = check(f, gpa, len);
    if (st == MICROVMI_OK)
        memcpy(buf, f->mem + gpa, len);
    return st;
}

static enum microvmi_status fake_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    struct fake *f = ctx;
    enum microvmi_status st = check(f, gpa, len);
    if (st == MICROVMI_OK)
        memcpy(f->mem + gpa, buf, len);
    return st;
}

static enum microvmi_status fake_pause(void *ctx)
{
    (void)ctx;
    return MICROVMI_VM_GONE; /* fails without a message of its own */
}

static const struct microvmi_driver_ops fake_ops = {
    .info = { .name = "fake", .description = "test", .params = "mem=SIZE fail=1",
              .capabilities = MICROVMI_CAP_READ_PHYSICAL, .limits = "" },
    .open = fake_open,
    .close = fake_close,
    .read_physical = fake_read,
    .write_physical = fake_write,
    .pause = fake_pause,
};

static const struct microvmi_driver_ops bare_ops = {
    .info = { .name = "bare", .description = "nothing", .params = "", .limits = "" },
    .open = fake_open,
    .close = fake_close,
};

static int setup(void **state)
{
    microvmi_t *vm = NULL;
    char *err = NULL;
    assert_int_equal(microvmi_init_with_ops(&fake_ops, NULL, &vm, &err), MICROVMI_OK);
    assert_null(err);
    *state = vm;
    return 0;
}

static int teardown(void **state)
{
    microvmi_destroy(*state);
    return 0;
}

static void test_read_splits_at_pages(void **state)
{
    microvmi_t *vm = *state;
    struct fake *f = vm->ctx;
    unsigned char buf[3 * 4096];
    size_t done = 99;
    assert_int_equal(microvmi_read_physical(vm, 0x0ff0, buf, 10000, &done), MICROVMI_OK);
    assert_int_equal(done, 10000);
    assert_memory_equal(buf, f->mem + 0x0ff0, 10000);
    assert_false(f->crossed);
    assert_int_equal(f->calls, 4); /* 0x10 + 4096 + 4096 + 1792 */

    f->calls = 0;
    assert_int_equal(microvmi_read_physical(vm, 0x2000, buf, 4096, NULL), MICROVMI_OK);
    assert_int_equal(f->calls, 1);
    assert_int_equal(microvmi_read_physical(vm, 0x2000, buf, 0, &done), MICROVMI_OK);
    assert_int_equal(done, 0);
    assert_int_equal(microvmi_read_physical(vm, 0x2fff, buf, 2, &done), MICROVMI_OK);
    assert_int_equal(f->calls, 3);
}

static void test_read_stops_at_first_failing_address(void **state)
{
    microvmi_t *vm = *state;
    unsigned char buf[8192];
    size_t done = 0;
    assert_int_equal(microvmi_read_physical(vm, 0x3800, buf, 4096, &done),
                     MICROVMI_NO_MEMORY_AT_ADDRESS);
    assert_int_equal(done, 0x800);
    assert_non_null(strstr(microvmi_last_error(vm), "0x4000"));
    assert_non_null(strstr(microvmi_last_error(vm), "2048 of 4096"));

    assert_int_equal(microvmi_read_physical(vm, 0x4010, buf, 1, &done),
                     MICROVMI_NO_MEMORY_AT_ADDRESS);
    assert_int_equal(done, 0);
    assert_non_null(strstr(microvmi_last_error(vm), "0x4010"));
}

static void test_write_splits_and_reports(void **state)
{
    microvmi_t *vm = *state;
    struct fake *f = vm->ctx;
    unsigned char data[6000];
    memset(data, 0xab, sizeof data);
    size_t done = 0;
    assert_int_equal(microvmi_write_physical(vm, 0x1fff, data, sizeof data, &done), MICROVMI_OK);
    assert_int_equal(done, sizeof data);
    assert_memory_equal(f->mem + 0x1fff, data, sizeof data);
    assert_false(f->crossed);
    assert_int_equal(microvmi_write_physical(vm, 0x5ff0, data, 0x20, &done),
                     MICROVMI_NO_MEMORY_AT_ADDRESS);
    assert_int_equal(done, 0x10);
    assert_non_null(strstr(microvmi_last_error(vm), "0x6000"));
}

static void test_bad_ranges(void **state)
{
    microvmi_t *vm = *state;
    unsigned char buf[8];
    size_t done = 5;
    assert_int_equal(microvmi_read_physical(vm, UINT64_MAX - 2, buf, 8, &done),
                     MICROVMI_INVALID_ARG);
    assert_int_equal(done, 0);
    assert_non_null(strstr(microvmi_last_error(vm), "wraps"));
    assert_int_equal(microvmi_read_physical(vm, 0, NULL, 8, &done), MICROVMI_INVALID_ARG);
    assert_int_equal(microvmi_read_physical(NULL, 0, buf, 8, &done), MICROVMI_INVALID_ARG);
    /* The last byte of the address space is addressable. */
    assert_int_equal(microvmi_read_physical(vm, UINT64_MAX, buf, 1, &done),
                     MICROVMI_NO_MEMORY_AT_ADDRESS);
}

static void test_driver_failure_without_message_gets_one(void **state)
{
    microvmi_t *vm = *state;
    assert_int_equal(microvmi_pause(vm), MICROVMI_VM_GONE);
    assert_string_equal(microvmi_last_error(vm), "pause failed in driver fake: vm gone");
}

static void test_null_ops_are_not_supported(void **state)
{
    (void)state;
    microvmi_t *vm = NULL;
    assert_int_equal(microvmi_init_with_ops(&bare_ops, NULL, &vm, NULL), MICROVMI_OK);
    unsigned char buf[4];
    struct microvmi_x86_regs regs;
    struct microvmi_event ev;
    struct microvmi_reply reply = { 0 };
    struct microvmi_intercept what = { MICROVMI_EVENT_CPUID, MICROVMI_ANY };
    uint32_t n;
    uint64_t g;
    uint16_t view;
    enum microvmi_access acc;
    void *host;

    assert_int_equal(microvmi_read_physical(vm, 0, buf, 4, NULL), MICROVMI_NOT_SUPPORTED);
    assert_string_equal(microvmi_last_error(vm),
                        "driver bare does not support reading physical memory (run `microvmi "
                        "drivers` to see which driver does)");
    assert_int_equal(microvmi_write_physical(vm, 0, buf, 4, NULL), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_vcpu_count(vm, &n), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_max_gfn(vm, &g), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_pause(vm), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_resume(vm), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_pause_vcpu(vm, 0), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_resume_vcpu(vm, 0), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_read_registers(vm, 0, &regs), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_write_registers(vm, 0, &regs), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_toggle_intercept(vm, 0, &what, true), MICROVMI_NOT_SUPPORTED);
    assert_non_null(strstr(microvmi_last_error(vm), "cpuid intercepts"));
    assert_int_equal(microvmi_listen(vm, 0, &ev), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_reply(vm, &ev, &reply), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_interrupt(vm), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_event_fd(vm), -1);
    assert_int_equal(microvmi_inject_exception(vm, 0, 14, true, 0, 0), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_set_page_access(vm, 0, 1, MICROVMI_ACCESS_R),
                     MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_get_page_access(vm, 0, 1, &acc), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_view_create(vm, &view), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_view_destroy(vm, 1), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_view_switch(vm, 0, 1), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_view_change_gfn(vm, 1, 2, 3), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_map_physical(vm, 0, 4096, false, &host), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_unmap_physical(vm, buf, 4), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_native_breakpoint(vm, MICROVMI_NATIVE_EXEC, 0x1000, 1, true),
                     MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_native_step(vm, 0), MICROVMI_NOT_SUPPORTED);
    assert_non_null(strstr(microvmi_last_error(vm), "driver bare does not support"));
    /* Argument errors come before support questions. */
    assert_int_equal(microvmi_inject_exception(vm, 0, 32, false, 0, 0), MICROVMI_INVALID_ARG);
    assert_int_equal(microvmi_set_page_access(vm, 0, 1, 8), MICROVMI_INVALID_ARG);
    char desc[16] = "x";
    assert_int_equal(microvmi_describe(vm, desc, sizeof desc), MICROVMI_OK);
    assert_string_equal(desc, "");
    assert_int_equal(microvmi_capabilities(vm), 0);
    assert_string_equal(microvmi_driver_name(vm), "bare");
    microvmi_destroy(vm);
}

static void test_init_checks_params_and_reports(void **state)
{
    (void)state;
    microvmi_t *vm = (microvmi_t *)0x1;
    char *err = NULL;
    const char *bad[] = { "mem=1G", "path=/x", NULL };
    assert_int_equal(microvmi_init_with_ops(&fake_ops, bad, &vm, &err), MICROVMI_INVALID_ARG);
    assert_null(vm);
    assert_string_equal(err, "driver fake: unknown parameter 'path' (accepted: mem, fail)");
    free(err);

    const char *fail[] = { "fail=1", NULL };
    assert_int_equal(microvmi_init_with_ops(&fake_ops, fail, &vm, &err), MICROVMI_INIT_FAILED);
    assert_string_equal(err, "driver fake: fake refuses: remove fail=");
    free(err);

    assert_int_equal(microvmi_init("no-such", NULL, &vm, &err), MICROVMI_NO_SUCH_DRIVER);
    assert_non_null(strstr(err, "no driver named 'no-such'"));
    free(err);
    assert_int_equal(microvmi_init(NULL, NULL, NULL, &err), MICROVMI_INVALID_ARG);
    free(err);

    int before = closed_count;
    assert_int_equal(microvmi_init_with_ops(&fake_ops, NULL, &vm, NULL), MICROVMI_OK);
    assert_string_equal(microvmi_last_error(vm), "");
    microvmi_destroy(vm);
    assert_int_equal(closed_count, before + 1);
    microvmi_destroy(NULL);
    assert_non_null(microvmi_last_error(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_read_splits_at_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_stops_at_first_failing_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_splits_and_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(test_driver_failure_without_message_gets_one, setup,
                                        teardown),
        cmocka_unit_test(test_null_ops_are_not_supported),
        cmocka_unit_test(test_init_checks_params_and_reports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
