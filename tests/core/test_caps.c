/*
 * The capability table covers every bit and every row of the VMI feature
 * tables (seeds), and the printed matrices are generated from it.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "microvmi.h"

/* The seed rows, in case the seeds folder is not on this machine. */
static const char *const known_rows[] = {
    "get number of VCPUs", "get maximum gfn", "pause/resume", "r/w physical memory",
    "r/w virtual memory", "r/w VCPU registers", "control registers",
    "extended control registers", "debug registers", "MSR", "singlesteps", "interrupts",
    "descriptors", "hypercalls", "CPUID", "memory", "alternate SLAT", "foreign mapping",
    "exception injection", "Intel Processor Trace packets",
};

/* A row is named when a title equals it or is "row (qualifier)". */
static bool table_names(const char *row)
{
    size_t n, len = strlen(row);
    const struct microvmi_cap_info *caps = microvmi_capability_table(&n);
    for (size_t i = 0; i < n; i++)
        if (strncmp(caps[i].title, row, len) == 0 &&
            (caps[i].title[len] == '\0' || strncmp(caps[i].title + len, " (", 2) == 0))
            return true;
    return false;
}

static void test_table_covers_every_bit_once(void **state)
{
    (void)state;
    size_t n;
    const struct microvmi_cap_info *caps = microvmi_capability_table(&n);
    assert_int_equal(n, 28);
    uint64_t seen = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(__builtin_popcountll(caps[i].bit), 1);
        assert_int_equal(seen & caps[i].bit, 0);
        seen |= caps[i].bit;
        assert_true(strlen(caps[i].name) > 0 && strlen(caps[i].title) > 0);
        assert_string_not_equal(microvmi_cap_group_title(caps[i].group), "unknown group");
        if (i)
            assert_true(caps[i].group >= caps[i - 1].group);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(caps[i].name, caps[j].name);
            assert_string_not_equal(caps[i].title, caps[j].title);
        }
    }
    assert_int_equal(seen, (1ull << 28) - 1);
}

static void test_table_names_every_seed_row(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof known_rows / sizeof known_rows[0]; i++) {
        if (!table_names(known_rows[i]))
            fail_msg("no capability title for seed row '%s'", known_rows[i]);
    }
    DIR *d = opendir(MICROVMI_SEEDS_DIR);
    if (!d)
        return; /* the embedded list above stands in for the seeds */
    struct dirent *e;
    size_t rows = 0;
    while ((e = readdir(d))) {
        if (!strstr(e->d_name, ".txt"))
            continue;
        char path[512], line[512];
        snprintf(path, sizeof path, "%s/%s", MICROVMI_SEEDS_DIR, e->d_name);
        FILE *f = fopen(path, "r");
        assert_non_null(f);
        while (fgets(line, sizeof line, f)) {
            char *dash = strstr(line, "- ");
            char *colon = strstr(line, ": ");
            if (!dash || !colon || colon < dash ||
                (!strstr(colon, "\xe2\x9c\x85") && !strstr(colon, "\xe2\x9d\x8c")))
                continue;
            *colon = '\0';
            rows++;
            if (!table_names(dash + 2))
                fail_msg("%s: no capability title for row '%s'", e->d_name, dash + 2);
        }
        fclose(f);
    }
    closedir(d);
    assert_true(rows > 0);
}

static char *print_matrix(const char *format)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    assert_int_equal(microvmi_print_driver_matrix(f, format), MICROVMI_OK);
    fclose(f);
    return text;
}

static void test_markdown_matrix_follows_the_bits(void **state)
{
    (void)state;
    char *md = print_matrix("markdown");
    size_t n, ndrv = microvmi_driver_count();
    const struct microvmi_cap_info *caps = microvmi_capability_table(&n);
    for (size_t i = 0; i < n; i++) {
        char head[128];
        snprintf(head, sizeof head, "\n| %s |", caps[i].title);
        char *row = strstr(md, head);
        if (!row)
            fail_msg("markdown matrix lacks the row '%s'", caps[i].title);
        row += strlen(head);
        for (size_t d = 0; d < ndrv; d++) {
            const char *want = (microvmi_driver_at(d)->capabilities & caps[i].bit)
                                   ? " \xe2\x9c\x85 |" : " \xe2\x9d\x8c |";
            assert_memory_equal(row, want, strlen(want));
            row += strlen(want);
        }
        assert_int_equal(*row, '\n');
    }
    for (size_t d = 0; d < ndrv; d++) {
        char drv[64];
        snprintf(drv, sizeof drv, "- **%s**:", microvmi_driver_at(d)->name);
        assert_non_null(strstr(md, drv));
    }
    free(md);
}

static void test_text_matrix_has_a_row_per_capability(void **state)
{
    (void)state;
    char *text = print_matrix("text");
    size_t n;
    const struct microvmi_cap_info *caps = microvmi_capability_table(&n);
    for (size_t i = 0; i < n; i++) {
        char head[128];
        snprintf(head, sizeof head, "\n  %s ", caps[i].title);
        if (!strstr(text, head))
            fail_msg("text matrix lacks the row '%s'", caps[i].title);
    }
    for (size_t d = 0; d < microvmi_driver_count(); d++) {
        char lim[64];
        snprintf(lim, sizeof lim, "%s: ", microvmi_driver_at(d)->name);
        char *at = strstr(text, lim);
        assert_non_null(at);
        assert_non_null(strstr(at, "  limits: "));
    }
    free(text);
    assert_int_equal(microvmi_print_driver_matrix(stdout, "html"), MICROVMI_INVALID_ARG);
    assert_int_equal(microvmi_print_driver_matrix(NULL, "text"), MICROVMI_INVALID_ARG);
}

static void test_driver_lookup(void **state)
{
    (void)state;
    for (size_t d = 0; d < microvmi_driver_count(); d++) {
        const struct microvmi_driver_info *info = microvmi_driver_at(d);
        assert_ptr_equal(microvmi_driver_find(info->name), info);
        assert_non_null(info->params);
        assert_non_null(info->limits);
    }
    assert_null(microvmi_driver_at(microvmi_driver_count()));
    assert_null(microvmi_driver_find("no-such-driver"));
    assert_null(microvmi_driver_find(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_covers_every_bit_once),
        cmocka_unit_test(test_table_names_every_seed_row),
        cmocka_unit_test(test_markdown_matrix_follows_the_bits),
        cmocka_unit_test(test_text_matrix_has_a_row_per_capability),
        cmocka_unit_test(test_driver_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
