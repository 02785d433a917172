/* The file driver on a raw dump: file offset == guest-physical address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_file_common.h"

#define SIZE (3 * 4096 + 100) /* ends mid-page */

struct fixture {
    unsigned char data[SIZE];
    char *path;
    microvmi_t *vm;
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    for (size_t i = 0; i < SIZE; i++)
        fx->data[i] = (unsigned char)(i ^ (i >> 8));
    fx->path = write_temp(fx->data, SIZE);
    assert_non_null(fx->path);
    char *err = NULL;
    assert_int_equal(open_file(fx->path, "auto", &fx->vm, &err), MICROVMI_OK);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    microvmi_destroy(fx->vm);
    unlink(fx->path);
    free(fx->path);
    free(fx);
    return 0;
}

static void test_facts(void **state)
{
    struct fixture *fx = *state;
    uint32_t n = 0;
    uint64_t gfn = 0;
    assert_string_equal(microvmi_driver_name(fx->vm), "file");
    assert_int_equal(microvmi_vcpu_count(fx->vm, &n), MICROVMI_OK);
    assert_int_equal(n, 1);
    assert_int_equal(microvmi_max_gfn(fx->vm, &gfn), MICROVMI_OK);
    assert_int_equal(gfn, 3);
    uint64_t caps = microvmi_capabilities(fx->vm);
    assert_true(caps & MICROVMI_CAP_READ_PHYSICAL);
    assert_false(caps & MICROVMI_CAP_READ_REGISTERS);
    assert_false(caps & MICROVMI_CAP_WRITE_PHYSICAL);
    char desc[512];
    assert_int_equal(microvmi_describe(fx->vm, desc, sizeof desc), MICROVMI_OK);
    assert_non_null(strstr(desc, "raw"));
}

static void test_reads_across_pages(void **state)
{
    struct fixture *fx = *state;
    unsigned char buf[SIZE];
    size_t done = 0;
    assert_int_equal(microvmi_read_physical(fx->vm, 0, buf, SIZE, &done), MICROVMI_OK);
    assert_int_equal(done, SIZE);
    assert_memory_equal(buf, fx->data, SIZE);
    assert_int_equal(microvmi_read_physical(fx->vm, 4095, buf, 4098, &done), MICROVMI_OK);
    assert_memory_equal(buf, fx->data + 4095, 4098);
}

static void test_read_past_the_end(void **state)
{
    struct fixture *fx = *state;
    unsigned char buf[512], zeros[10] = { 0 };
    size_t done = 0;
    /* The last page is partly in the file: the rest of it reads as zeros. */
    assert_int_equal(microvmi_read_physical(fx->vm, SIZE - 10, buf, 20, &done), MICROVMI_OK);
    assert_memory_equal(buf, fx->data + SIZE - 10, 10);
    assert_memory_equal(buf + 10, zeros, 10);
    assert_int_equal(microvmi_read_physical(fx->vm, 0x3ff0, buf, 0x20, &done),
                     MICROVMI_NO_MEMORY_AT_ADDRESS);
    assert_int_equal(done, 0x10);
    assert_non_null(strstr(microvmi_last_error(fx->vm), "0x4000"));
    assert_int_equal(microvmi_read_physical(fx->vm, 1ull << 40, buf, 1, &done),
                     MICROVMI_NO_MEMORY_AT_ADDRESS);
    assert_non_null(strstr(microvmi_last_error(fx->vm), "0x10000000000"));
}

static void test_read_only(void **state)
{
    struct fixture *fx = *state;
    unsigned char buf[4] = { 0 };
    assert_int_equal(microvmi_write_physical(fx->vm, 0, buf, 4, NULL), MICROVMI_NOT_SUPPORTED);
    assert_non_null(strstr(microvmi_last_error(fx->vm), "driver file does not support"));
    struct microvmi_address_space as = { .mode = MICROVMI_PAGING_NONE };
    assert_int_equal(microvmi_write_virtual(fx->vm, &as, 0, buf, 4, NULL), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_read_virtual(fx->vm, &as, 0x10, buf, 4, NULL), MICROVMI_OK);
    assert_memory_equal(buf, fx->data + 0x10, 4);
    struct microvmi_x86_regs regs;
    assert_int_equal(microvmi_read_registers(fx->vm, 0, &regs), MICROVMI_NOT_SUPPORTED);
    assert_non_null(strstr(microvmi_last_error(fx->vm), "ELF core"));
    struct microvmi_event ev;
    assert_int_equal(microvmi_listen(fx->vm, 0, &ev), MICROVMI_NOT_SUPPORTED);
    assert_int_equal(microvmi_pause(fx->vm), MICROVMI_NOT_SUPPORTED);
}

static void test_foreign_mapping(void **state)
{
    struct fixture *fx = *state;
    void *host = NULL;
    assert_int_equal(microvmi_map_physical(fx->vm, 0x1000, 0x2000, false, &host), MICROVMI_OK);
    assert_memory_equal(host, fx->data + 0x1000, 0x2000);
    assert_int_equal(microvmi_unmap_physical(fx->vm, host, 0x2000), MICROVMI_OK);
    assert_int_equal(microvmi_map_physical(fx->vm, 0x1000, 0x1000, true, &host),
                     MICROVMI_READ_ONLY);
    assert_int_equal(microvmi_map_physical(fx->vm, 0x3000, 0x1000, false, &host),
                     MICROVMI_NOT_SUPPORTED);
}

static void test_open_errors(void **state)
{
    (void)state;
    microvmi_t *vm = NULL;
    char *err = NULL;
    assert_int_equal(open_file("/nonexistent/dump.raw", "raw", &vm, &err), MICROVMI_INIT_FAILED);
    assert_null(vm);
    assert_non_null(strstr(err, "cannot open /nonexistent/dump.raw"));
    free(err);

    assert_int_equal(open_file("/tmp", "raw", &vm, &err), MICROVMI_INIT_FAILED);
    assert_non_null(strstr(err, "not a regular file"));
    free(err);

    char *empty = write_temp("", 0);
    assert_int_equal(open_file(empty, "auto", &vm, &err), MICROVMI_INIT_FAILED);
    assert_non_null(strstr(err, "empty"));
    free(err);
    unlink(empty);
    free(empty);

    assert_int_equal(open_file("/tmp/x", "qcow2", &vm, &err), MICROVMI_INVALID_ARG);
    assert_non_null(strstr(err, "format=qcow2"));
    free(err);

    const char *none[] = { NULL };
    assert_int_equal(microvmi_init("file", none, &vm, &err), MICROVMI_INVALID_ARG);
    assert_non_null(strstr(err, "path=FILE"));
    free(err);

    const char *unknown[] = { "path=/x", "kernel=/y", NULL };
    assert_int_equal(microvmi_init("file", unknown, &vm, &err), MICROVMI_INVALID_ARG);
    assert_non_null(strstr(err, "unknown parameter 'kernel' (accepted: path, format)"));
    free(err);
}

static void test_auto_detect_picks_file(void **state)
{
    struct fixture *fx = *state;
    char p[512];
    snprintf(p, sizeof p, "path=%s", fx->path);
    const char *params[] = { p, NULL };
    microvmi_t *vm = NULL;
    char *err = NULL;
    assert_int_equal(microvmi_init(NULL, params, &vm, &err), MICROVMI_OK);
    assert_string_equal(microvmi_driver_name(vm), "file");
    microvmi_destroy(vm);

    const char *missing[] = { "path=/nonexistent", NULL };
    assert_int_equal(microvmi_init(NULL, missing, &vm, &err), MICROVMI_INIT_FAILED);
    assert_non_null(strstr(err, "driver file: cannot open /nonexistent"));
    free(err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_facts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_across_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_past_the_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_mapping, setup, teardown),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test_setup_teardown(test_auto_detect_picks_file, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
