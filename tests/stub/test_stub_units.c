/* Unit tests of the stub's pure parts: packet argument parsers, register
 * marshalling (and that its order matches target.xml), the CLI. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "args.h"
#include "cli.h"
#include "regs.h"

#include <stdio.h>
#include <string.h>

const char *stub_xml_find(const char *annex, size_t *len);

#define S(x) x, strlen(x)

static void test_addr_len(void **state)
{
    (void)state;
    uint64_t a, l;
    assert_true(stub_parse_addr_len(S("200000,40"), &a, &l));
    assert_int_equal(a, 0x200000);
    assert_int_equal(l, 0x40);
    assert_false(stub_parse_addr_len(S("200000"), &a, &l));
    assert_false(stub_parse_addr_len(S(",4"), &a, &l));
    assert_false(stub_parse_addr_len(S("1,2,3"), &a, &l));
    assert_false(stub_parse_addr_len(S("11112222333344445,1"), &a, &l)); /* > 64 bits */
    assert_true(stub_parse_addr_len(S("ffffffffffffffff,ffffffffffffffff"), &a, &l));
    const char *d;
    size_t dl;
    assert_true(stub_parse_addr_len_data(S("10,2:abcd"), &a, &l, &d, &dl));
    assert_int_equal(dl, 4);
    assert_memory_equal(d, "abcd", 4);
    assert_false(stub_parse_addr_len_data(S("10,2"), &a, &l, &d, &dl));
}

static void test_z(void **state)
{
    (void)state;
    int t;
    uint64_t a, k;
    assert_true(stub_parse_z(S("0,401000,1"), &t, &a, &k));
    assert_int_equal(t, 0);
    assert_int_equal(a, 0x401000);
    assert_int_equal(k, 1);
    assert_true(stub_parse_z(S("2,20a000,2000"), &t, &a, &k));
    assert_int_equal(k, 0x2000);
    assert_true(stub_parse_z(S("1,10,1;X3,0a0b0c"), &t, &a, &k)); /* conditions ignored */
    assert_false(stub_parse_z(S("5,10,1"), &t, &a, &k));
    assert_false(stub_parse_z(S("0,10"), &t, &a, &k));
    assert_false(stub_parse_z(S("0,10,1x"), &t, &a, &k));
}

static void test_vcont(void **state)
{
    (void)state;
    struct stub_vcont_action a[4];
    assert_int_equal(stub_parse_vcont(S(";s:2;c"), a, 4), 2);
    assert_int_equal(a[0].op, 's');
    assert_int_equal(a[0].tid, 2);
    assert_int_equal(a[1].op, 'c');
    assert_int_equal(a[1].tid, STUB_TID_ALL);
    assert_int_equal(stub_parse_vcont(S(";C05:1"), a, 4), 1);
    assert_int_equal(a[0].op, 'c');
    assert_int_equal(a[0].signal, 5);
    assert_int_equal(stub_parse_vcont(S(";s:p1.3"), a, 4), 1);
    assert_int_equal(a[0].tid, 3);
    assert_int_equal(stub_parse_vcont(S(";c:-1"), a, 4), 1);
    assert_int_equal(a[0].tid, STUB_TID_ALL);
    assert_int_equal(stub_parse_vcont(S(""), a, 4), -1);
    assert_int_equal(stub_parse_vcont(S(";"), a, 4), -1);
    assert_int_equal(stub_parse_vcont(S(";x"), a, 4), -1);
    assert_int_equal(stub_parse_vcont(S(";c;c;c;c;c"), a, 4), -1); /* too many */
    assert_int_equal(stub_parse_vcont(S(";s:"), a, 4), -1);
    assert_int_equal(stub_parse_vcont(S(";C:1"), a, 4), -1);
}

static void test_p_rcmd_xfer(void **state)
{
    (void)state;
    uint64_t r;
    uint8_t v[16];
    size_t vl;
    assert_true(stub_parse_p(S("3e"), &r));
    assert_int_equal(r, 0x3e);
    assert_false(stub_parse_p(S("3e="), &r));
    assert_true(stub_parse_P(S("10=0010200000000000"), &r, v, sizeof v, &vl));
    assert_int_equal(vl, 8);
    assert_int_equal(v[2], 0x20);
    assert_false(stub_parse_P(S("10=001"), &r, v, sizeof v, &vl));
    assert_false(stub_parse_P(S("10=" "0011223344556677889900112233445566"), &r, v, sizeof v, &vl));
    char out[16];
    assert_true(stub_parse_rcmd(S("68656c70"), out, sizeof out));
    assert_string_equal(out, "help");
    assert_false(stub_parse_rcmd(S("6865006c"), out, sizeof out)); /* embedded NUL */
    assert_false(stub_parse_rcmd(S("686"), out, sizeof out));
    assert_false(stub_parse_rcmd(S("6868686868686868686868686868686868"), out, sizeof out));
    struct stub_xfer x;
    assert_true(stub_parse_xfer_read(S("features:read:target.xml:0,ffb"), &x));
    assert_string_equal(x.object, "features");
    assert_string_equal(x.annex, "target.xml");
    assert_int_equal(x.length, 0xffb);
    assert_true(stub_parse_xfer_read(S("threads:read::0,1000"), &x));
    assert_string_equal(x.annex, "");
    assert_false(stub_parse_xfer_read(S("features:write:target.xml:0,1"), &x));
    assert_false(stub_parse_xfer_read(S("features:read:target.xml"), &x));
}

static void test_tid(void **state)
{
    (void)state;
    int64_t t;
    const char *in = "-1";
    struct stub_cursor c = { in, in + 2 };
    assert_true(stub_parse_tid(&c, &t));
    assert_int_equal(t, -1);
    in = "p1.2";
    c = (struct stub_cursor){ in, in + 4 };
    assert_true(stub_parse_tid(&c, &t));
    assert_int_equal(t, 2);
    in = "-2";
    c = (struct stub_cursor){ in, in + 2 };
    assert_false(stub_parse_tid(&c, &t));
}

static void test_regs_roundtrip(void **state)
{
    (void)state;
    struct microvmi_x86_regs r;
    memset(&r, 0, sizeof r);
    r.rax = 0x1122334455667788ull;
    r.rip = 0x200123;
    r.rflags = 0x246;
    r.cs.selector = 0x8;
    r.cr3 = 0x5000;
    r.efer = 0xd01;
    r.fs.base = 0xfeed;
    r.fpu.mxcsr = 0x1f80;
    r.fpu.xmm[3][15] = 0xab;
    r.present = MICROVMI_REGS_GPR | MICROVMI_REGS_SEGMENTS | MICROVMI_REGS_CONTROL |
                MICROVMI_REGS_MSRS;
    uint8_t b[STUB_REG_MAX_BYTES];
    assert_true(stub_reg_get(&r, 0, b));
    assert_int_equal(b[0], 0x88);
    assert_int_equal(b[7], 0x11);
    assert_true(stub_reg_get(&r, STUB_REG_RIP, b));
    assert_int_equal(b[0], 0x23);
    assert_int_equal(b[2], 0x20);
    assert_true(stub_reg_get(&r, STUB_REG_EFLAGS, b));
    assert_int_equal(b[0], 0x46);
    assert_int_equal(b[1], 0x02);
    assert_false(stub_reg_get(&r, 56, b)); /* mxcsr: FPU not present */
    r.present |= MICROVMI_REGS_FPU;
    assert_true(stub_reg_get(&r, 56, b));
    assert_int_equal(b[1], 0x1f);
    assert_true(stub_reg_get(&r, 43, b)); /* xmm3 */
    assert_int_equal(b[15], 0xab);
    /* cr3 by name */
    size_t cr3 = 0;
    for (size_t i = 0; i < STUB_REG_COUNT; i++)
        if (strcmp(stub_reg_desc(i)->name, "cr3") == 0)
            cr3 = i;
    assert_true(stub_reg_get(&r, cr3, b));
    assert_int_equal(b[1], 0x50);
    uint8_t nv[8] = { 0, 0x70, 0, 0, 0, 0, 0, 0 };
    assert_int_equal(stub_reg_set(&r, cr3, nv), MICROVMI_REGS_CONTROL);
    assert_int_equal(r.cr3, 0x7000);
    uint8_t fl[4] = { 0x02, 0x01, 0, 0 };
    assert_int_equal(stub_reg_set(&r, STUB_REG_EFLAGS, fl), MICROVMI_REGS_GPR);
    assert_int_equal(r.rflags, 0x102);
    assert_int_equal(stub_reg_set(&r, STUB_REG_COUNT, fl), 0);
    assert_null(stub_reg_desc(STUB_REG_COUNT));
    assert_int_equal(stub_regs_g_size(), 608);
}

/* The register table and target.xml (with its includes) list the same
 * registers in the same order with the same sizes. */
static void test_regs_match_xml(void **state)
{
    (void)state;
    size_t tlen;
    const char *target = stub_xml_find("target.xml", &tlen);
    assert_non_null(target);
    assert_non_null(strstr(target, "i386:x86-64"));
    size_t regnum = 0;
    const char *inc = target;
    while ((inc = strstr(inc, "xi:include href=\"")) != NULL) {
        inc += strlen("xi:include href=\"");
        char name[64];
        size_t n = (size_t)(strchr(inc, '"') - inc);
        assert_true(n < sizeof name);
        memcpy(name, inc, n);
        name[n] = '\0';
        size_t flen;
        const char *f = stub_xml_find(name, &flen);
        assert_non_null(f);
        for (const char *r = strstr(f, "<reg name=\""); r; r = strstr(r + 1, "<reg name=\"")) {
            const char *nm = r + strlen("<reg name=\"");
            const struct stub_reg_desc *d = stub_reg_desc(regnum);
            assert_non_null(d);
            assert_memory_equal(nm, d->name, strlen(d->name));
            assert_int_equal(nm[strlen(d->name)], '"');
            const char *bs = strstr(r, "bitsize=\"");
            assert_non_null(bs);
            unsigned bits = 0;
            assert_int_equal(sscanf(bs, "bitsize=\"%u\"", &bits), 1);
            assert_int_equal(bits, d->bits);
            const char *rn = strstr(r, "regnum=\"");
            const char *end = strchr(r, '>');
            if (rn && rn < end) {
                unsigned want = 0;
                assert_int_equal(sscanf(rn, "regnum=\"%u\"", &want), 1);
                assert_int_equal(want, regnum);
            }
            regnum++;
        }
    }
    assert_int_equal(regnum, STUB_REG_COUNT);
    assert_null(stub_xml_find("../etc/passwd", &tlen));
}

static void test_cli(void **state)
{
    (void)state;
    struct stub_options o;
    char err[256];
    char *a1[] = { "x", NULL };
    assert_int_equal(stub_cli_parse(1, a1, &o, err, sizeof err), STUB_CLI_RUN);
    assert_string_equal(o.driver, "emu");
    assert_string_equal(o.host, "127.0.0.1");
    assert_int_equal(o.port, 1234);
    assert_false(o.once);
    char *a2[] = { "x", "--driver", "qemu", "--param", "gdb=:1", "--param=mem=64M",
                   "--listen", "unix:/tmp/s", "--once", "-v", NULL };
    assert_int_equal(stub_cli_parse(10, a2, &o, err, sizeof err), STUB_CLI_RUN);
    assert_string_equal(o.driver, "qemu");
    assert_int_equal(o.nparams, 2);
    assert_string_equal(o.params[1], "mem=64M");
    assert_null(o.params[2]);
    assert_int_equal(o.listen, STUB_LISTEN_UNIX);
    assert_string_equal(o.unix_path, "/tmp/s");
    assert_true(o.once);
    assert_int_equal(o.verbose, 1);
    char *a3[] = { "x", "--listen", "0.0.0.0:99999", NULL };
    assert_int_equal(stub_cli_parse(3, a3, &o, err, sizeof err), STUB_CLI_ERROR);
    char *a4[] = { "x", "--param", "novalue", NULL };
    assert_int_equal(stub_cli_parse(3, a4, &o, err, sizeof err), STUB_CLI_ERROR);
    char *a5[] = { "x", "--driver", NULL };
    assert_int_equal(stub_cli_parse(2, a5, &o, err, sizeof err), STUB_CLI_ERROR);
    char *a6[] = { "x", "--listen", "stdio", "--list-drivers", NULL };
    assert_int_equal(stub_cli_parse(4, a6, &o, err, sizeof err), STUB_CLI_RUN);
    assert_int_equal(o.listen, STUB_LISTEN_STDIO);
    assert_true(o.list_drivers);
    char *a7[] = { "x", "--listen", ":4000", NULL };
    assert_int_equal(stub_cli_parse(3, a7, &o, err, sizeof err), STUB_CLI_RUN);
    assert_int_equal(o.port, 4000);
    assert_string_equal(o.host, "127.0.0.1");
    char *a8[] = { "x", "--help", NULL };
    assert_int_equal(stub_cli_parse(2, a8, &o, err, sizeof err), STUB_CLI_HELP);
    char *a9[] = { "x", "--exit-dump", "0x200000:0x1000:/tmp/f", NULL };
    assert_int_equal(stub_cli_parse(3, a9, &o, err, sizeof err), STUB_CLI_RUN);
    assert_int_equal(o.exit_dump_gpa, 0x200000);
    assert_int_equal(o.exit_dump_len, 0x1000);
    assert_string_equal(o.exit_dump_file, "/tmp/f");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_addr_len),  cmocka_unit_test(test_z),
        cmocka_unit_test(test_vcont),     cmocka_unit_test(test_p_rcmd_xfer),
        cmocka_unit_test(test_tid),       cmocka_unit_test(test_regs_roundtrip),
        cmocka_unit_test(test_regs_match_xml), cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
