/* Parameter lookup, number/size parsing and the declared-keys check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "driver.h"

static void test_parse_u64(void **state)
{
    (void)state;
    uint64_t v;
    assert_true(microvmi_parse_u64("0", &v));
    assert_int_equal(v, 0);
    assert_true(microvmi_parse_u64("4096", &v));
    assert_int_equal(v, 4096);
    assert_true(microvmi_parse_u64("0x1000", &v));
    assert_int_equal(v, 0x1000);
    assert_true(microvmi_parse_u64("010", &v)); /* decimal, never octal */
    assert_int_equal(v, 10);
    assert_true(microvmi_parse_u64("512M", &v));
    assert_int_equal(v, 512ull << 20);
    assert_true(microvmi_parse_u64("2G", &v));
    assert_int_equal(v, 2ull << 30);
    assert_true(microvmi_parse_u64("4KiB", &v));
    assert_int_equal(v, 4096);
    assert_true(microvmi_parse_u64("1t", &v));
    assert_int_equal(v, 1ull << 40);
    assert_true(microvmi_parse_u64("18446744073709551615", &v));
    assert_int_equal(v, UINT64_MAX);

    const char *bad[] = { "", "x", "-1", " 1", "1 ", "0x", "12Q", "1MM", "18446744073709551616",
                          "16777216T", "0xg", "+5", "1i" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(microvmi_parse_u64(bad[i], &v));
    assert_false(microvmi_parse_u64(NULL, &v));
}

static void test_param_lookup(void **state)
{
    (void)state;
    const char *kv[] = { "path=/tmp/x", "pathological=1", "format=", NULL };
    struct microvmi_params p = { 3, kv };
    assert_string_equal(microvmi_param(&p, "path"), "/tmp/x");
    assert_string_equal(microvmi_param(&p, "pathological"), "1");
    assert_string_equal(microvmi_param(&p, "format"), "");
    assert_null(microvmi_param(&p, "pat"));
    assert_null(microvmi_param(&p, "mem"));

    uint64_t v = 0;
    const char *kv2[] = { "mem=64M", "vcpus=two", NULL };
    struct microvmi_params p2 = { 2, kv2 };
    assert_int_equal(microvmi_param_u64(NULL, &p2, "mem", 0, &v), MICROVMI_OK);
    assert_int_equal(v, 64ull << 20);
    assert_int_equal(microvmi_param_u64(NULL, &p2, "absent", 7, &v), MICROVMI_OK);
    assert_int_equal(v, 7);
    assert_int_equal(microvmi_param_u64(NULL, &p2, "vcpus", 1, &v), MICROVMI_INVALID_ARG);
}

static void test_params_check(void **state)
{
    (void)state;
    const char *declared = "path=FILE format=auto|raw|elf";
    char msg[256];
    const char *ok[] = { "path=/x", "format=raw" };
    assert_int_equal(microvmi_params_check(declared, ok, 2, msg, sizeof msg), MICROVMI_OK);
    assert_int_equal(microvmi_params_check(declared, NULL, 0, msg, sizeof msg), MICROVMI_OK);

    const char *unknown[] = { "path=/x", "mem=1G" };
    assert_int_equal(microvmi_params_check(declared, unknown, 2, msg, sizeof msg),
                     MICROVMI_INVALID_ARG);
    assert_string_equal(msg, "unknown parameter 'mem' (accepted: path, format)");

    const char *prefix[] = { "pat=/x" };
    assert_int_equal(microvmi_params_check(declared, prefix, 1, msg, sizeof msg),
                     MICROVMI_INVALID_ARG);

    const char *noeq[] = { "path" };
    assert_int_equal(microvmi_params_check(declared, noeq, 1, msg, sizeof msg),
                     MICROVMI_INVALID_ARG);
    assert_non_null(strstr(msg, "key=value"));

    const char *twice[] = { "path=/a", "path=/b" };
    assert_int_equal(microvmi_params_check(declared, twice, 2, msg, sizeof msg),
                     MICROVMI_INVALID_ARG);
    assert_non_null(strstr(msg, "twice"));

    const char *opt[] = { "gdb=1234", "qmp=/s" };
    assert_int_equal(microvmi_params_check("kernel=PATH [gdb=PORT] [qmp]", opt, 2, msg,
                                           sizeof msg), MICROVMI_OK);
    const char *opt_bad[] = { "gd=1" };
    assert_int_equal(microvmi_params_check("kernel=PATH [gdb=PORT]", opt_bad, 1, msg, sizeof msg),
                     MICROVMI_INVALID_ARG);
    assert_string_equal(msg, "unknown parameter 'gd' (accepted: kernel, gdb)");

    const char *any[] = { "x=1" };
    assert_int_equal(microvmi_params_check("", any, 1, msg, sizeof msg), MICROVMI_INVALID_ARG);
    assert_non_null(strstr(msg, "accepted: none"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_u64),
        cmocka_unit_test(test_param_lookup),
        cmocka_unit_test(test_params_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
