/* Status names, event kind names and the event JSON line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "microvmi.h"

static void test_every_status_has_a_distinct_name(void **state)
{
    (void)state;
    for (int a = 0; a < MICROVMI_STATUS_COUNT; a++) {
        const char *na = microvmi_status_str(a);
        assert_non_null(na);
        assert_string_not_equal(na, "unknown status");
        for (int b = 0; b < a; b++)
            assert_string_not_equal(na, microvmi_status_str(b));
    }
    assert_string_equal(microvmi_status_str(MICROVMI_OK), "ok");
    assert_string_equal(microvmi_status_str(MICROVMI_NOT_SUPPORTED), "not supported");
    assert_string_equal(microvmi_status_str(MICROVMI_STATUS_COUNT), "unknown status");
    assert_string_equal(microvmi_status_str((enum microvmi_status)-1), "unknown status");
}

static void test_event_kinds_round_trip(void **state)
{
    (void)state;
    for (int k = 1; k < MICROVMI_EVENT_KIND_COUNT; k++) {
        enum microvmi_event_kind parsed = 0;
        const char *name = microvmi_event_kind_str(k);
        assert_string_not_equal(name, "unknown");
        assert_int_equal(microvmi_event_kind_parse(name, &parsed), MICROVMI_OK);
        assert_int_equal(parsed, k);
    }
    const char *crs[] = { "cr0", "cr3", "cr4", "cr8" };
    for (size_t i = 0; i < 4; i++) {
        enum microvmi_event_kind parsed = 0;
        assert_int_equal(microvmi_event_kind_parse(crs[i], &parsed), MICROVMI_OK);
        assert_int_equal(parsed, MICROVMI_EVENT_CR);
    }
    enum microvmi_event_kind k;
    assert_int_equal(microvmi_event_kind_parse("cr2", &k), MICROVMI_INVALID_ARG);
    assert_int_equal(microvmi_event_kind_parse("", &k), MICROVMI_INVALID_ARG);
    assert_int_equal(microvmi_event_kind_parse(NULL, &k), MICROVMI_INVALID_ARG);
    assert_string_equal(microvmi_event_kind_str(0), "unknown");
    assert_string_equal(microvmi_event_kind_str(MICROVMI_EVENT_KIND_COUNT), "unknown");
}

static void test_event_json(void **state)
{
    (void)state;
    char buf[512];
    struct microvmi_event ev = { .kind = MICROVMI_EVENT_CR, .vcpu = 1, .rip = 0x1000 };
    ev.u.cr.index = 3;
    ev.u.cr.old_value = 0x1000;
    ev.u.cr.new_value = 0xffffffff80002000ull;
    assert_int_equal(microvmi_event_to_json(&ev, buf, sizeof buf), MICROVMI_OK);
    assert_string_equal(buf, "{\"vcpu\":1,\"kind\":\"cr\",\"rip\":\"0x1000\",\"cr3\":\"0x0\","
                             "\"cr\":3,\"old\":\"0x1000\",\"new\":\"0xffffffff80002000\"}");

    struct microvmi_event m = { .kind = MICROVMI_EVENT_MEMORY };
    m.u.memory.gpa = 0x5000;
    m.u.memory.gva = 0x7000;
    m.u.memory.gva_valid = true;
    m.u.memory.access = MICROVMI_ACCESS_W;
    assert_int_equal(microvmi_event_to_json(&m, buf, sizeof buf), MICROVMI_OK);
    assert_non_null(strstr(buf, "\"gpa\":\"0x5000\",\"gva\":\"0x7000\",\"access\":\"w\""));

    struct microvmi_event i3 = { .kind = MICROVMI_EVENT_INT3 };
    i3.u.int3.insn_len = 1;
    assert_int_equal(microvmi_event_to_json(&i3, buf, sizeof buf), MICROVMI_OK);
    assert_non_null(strstr(buf, "\"insn_len\":1"));

    struct microvmi_event c = { .kind = MICROVMI_EVENT_CPUID };
    c.u.cpuid.leaf = 0x40000000;
    assert_int_equal(microvmi_event_to_json(&c, buf, sizeof buf), MICROVMI_OK);
    assert_non_null(strstr(buf, "\"leaf\":\"0x40000000\""));

    struct microvmi_event x = { .kind = MICROVMI_EVENT_EXCEPTION };
    x.u.exception.vector = 14;
    x.u.exception.has_error_code = true;
    x.u.exception.error_code = 2;
    assert_int_equal(microvmi_event_to_json(&x, buf, sizeof buf), MICROVMI_OK);
    assert_non_null(strstr(buf, "\"vector\":14"));
    assert_non_null(strstr(buf, "\"error_code\":\"0x2\""));

    struct microvmi_event msr = { .kind = MICROVMI_EVENT_MSR };
    msr.u.msr.index = 0xc0000080;
    msr.u.msr.value = 0xd01;
    assert_int_equal(microvmi_event_to_json(&msr, buf, sizeof buf), MICROVMI_OK);
    assert_non_null(strstr(buf, "\"msr\":\"0xc0000080\""));
    assert_non_null(strstr(buf, "\"value\":\"0xd01\""));

    /* Too small a buffer is an error and leaves an empty string, not half an object. */
    char tiny[16];
    assert_int_equal(microvmi_event_to_json(&ev, tiny, sizeof tiny), MICROVMI_INVALID_ARG);
    assert_string_equal(tiny, "");
    assert_int_equal(microvmi_event_to_json(NULL, buf, sizeof buf), MICROVMI_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_status_has_a_distinct_name),
        cmocka_unit_test(test_event_kinds_round_trip),
        cmocka_unit_test(test_event_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
