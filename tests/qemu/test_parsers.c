/* The qemu driver's parsers on real QEMU 7.2 output (tests/qemu/data) and on
 * hand-made edge cases: HMP `info registers`, `info mtree -f`, gdb stop
 * replies, target descriptions, QMP lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gdbchan.h"
#include "hmp_regs.h"
#include "layout.h"
#include "qmp.h"
#include "tdesc.h"

static char *slurp(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", QEMU_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static void hmp_regs_linux(void **state)
{
    (void)state;
    size_t len;
    char *text = slurp("info-registers-linux.txt", &len);
    struct microvmi_x86_regs r = { 0 };
    assert_true(qemu_hmp_parse_regs(text, len, &r));
    assert_int_equal(r.present & 0x7f, MICROVMI_REGS_GPR | MICROVMI_REGS_SEGMENTS |
                                           MICROVMI_REGS_CONTROL | MICROVMI_REGS_DEBUG |
                                           MICROVMI_REGS_MSRS | MICROVMI_REGS_DTABLES);
    assert_int_equal(r.rax, 0x1ad40);
    assert_int_equal(r.rdx, 0x4000000000000000ull);
    assert_int_equal(r.rip, 0xffffffff81a17a0bull);
    assert_int_equal(r.rflags, 0x246);
    assert_int_equal(r.cs.selector, 0x10);
    assert_int_equal(r.cs.attributes, 0xa9b); /* 64-bit code: L=1, G=1, P, type b */
    assert_int_equal(r.ss.attributes, 0xc93);
    assert_int_equal(r.gs.base, 0xffff88800f800000ull);
    assert_int_equal(r.tr.selector, 0x40);
    assert_int_equal(r.tr.base, 0xfffffe0000003000ull);
    assert_int_equal(r.tr.limit, 0x4087);
    assert_int_equal(r.tr.attributes, 0x89);
    assert_int_equal(r.ldtr.attributes, 0x82);
    assert_int_equal(r.gdtr.base, 0xfffffe0000001000ull);
    assert_int_equal(r.gdtr.limit, 0x7f);
    assert_int_equal(r.idtr.limit, 0xfff);
    assert_int_equal(r.cr0, 0x80050033);
    assert_int_equal(r.cr4, 0x6b0);
    assert_int_equal(r.dr6, 0xffff0ff0);
    assert_int_equal(r.dr7, 0x400);
    assert_int_equal(r.efer, 0xd01);
    free(text);
}

static void hmp_regs_32bit_and_garbage(void **state)
{
    (void)state;
    const char *t32 =
        "EAX=00000001 EBX=00000002 ECX=00000003 EDX=00000004\n"
        "ESI=00000005 EDI=00000006 EBP=00000007 ESP=00000008\n"
        "EIP=00100000 EFL=00000002 [-------] CPL=0 II=0 A20=1 SMM=0 HLT=0\n"
        "ES =0018 00000000 ffffffff 00cf9300 DPL=0 DS   [-WA]\n"
        "CS =0010 00000000 ffffffff 00cf9b00 DPL=0 CS32 [-RA]\n"
        "GDT=     00001000 00000027\n"
        "CR0=00000011 CR2=00000000 CR3=00000000 CR4=00000000\n";
    struct microvmi_x86_regs r = { 0 };
    assert_true(qemu_hmp_parse_regs(t32, strlen(t32), &r));
    assert_int_equal(r.rsp, 8);
    assert_int_equal(r.rip, 0x100000);
    assert_int_equal(r.cs.attributes, 0xc9b);
    assert_int_equal(r.gdtr.limit, 0x27);
    assert_true(r.present & MICROVMI_REGS_CONTROL);
    assert_false(r.present & MICROVMI_REGS_SEGMENTS); /* only 2 of 8 segments */
    assert_false(r.present & MICROVMI_REGS_GPR);      /* EFL is not RFL */

    const char *junk[] = { "", "=", "RIP=", "RIP", "CS =zz", "GDT=\n", "R8 =", "RIP=1\nCPU#1\nRAX=5",
                           "\n\n\n", "RIP=ffffffffffffffffffff" };
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) {
        struct microvmi_x86_regs z = { 0 };
        qemu_hmp_parse_regs(junk[i], strlen(junk[i]), &z);
    }
    struct microvmi_x86_regs two = { 0 };
    assert_true(qemu_hmp_parse_regs("CPU#0\nRIP=1\nCPU#1\nRIP=2\n", 24, &two));
    assert_int_equal(two.rip, 1); /* first CPU block only */
}

static void layout_pc(void **state)
{
    (void)state;
    size_t len;
    char *text = slurp("mtree-pc-256m.txt", &len);
    struct qemu_layout l;
    assert_true(qemu_layout_parse_mtree(text, len, "ram0", &l));
    /* ram, PAM'd rom and ram pieces of ram0 merge into one range */
    assert_int_equal(l.count, 1);
    assert_int_equal(l.r[0].gpa, 0);
    assert_int_equal(l.r[0].size, 0x10000000);
    assert_int_equal(l.r[0].offset, 0);
    assert_int_equal(qemu_layout_end(&l), 0x10000000);
    assert_non_null(qemu_layout_find(&l, 0xfffffff));
    assert_null(qemu_layout_find(&l, 0x10000000));
    assert_false(qemu_layout_parse_mtree(text, len, "pc.ram", &l));
    assert_false(qemu_layout_parse_mtree(text, len, "ram", &l)); /* no prefix match */
    free(text);
}

static void layout_q35_above_4g(void **state)
{
    (void)state;
    size_t len;
    char *text = slurp("mtree-q35-5g.txt", &len);
    struct qemu_layout l;
    assert_true(qemu_layout_parse_mtree(text, len, "r0", &l));
    assert_int_equal(l.count, 3);
    assert_int_equal(l.r[0].gpa, 0);
    assert_int_equal(l.r[0].size, 0xc0000);
    assert_int_equal(l.r[1].gpa, 0x100000);
    assert_int_equal(l.r[1].offset, 0x100000);
    assert_int_equal(l.r[1].size, 0x80000000 - 0x100000);
    assert_int_equal(l.r[2].gpa, 0x100000000ull);
    assert_int_equal(l.r[2].offset, 0x80000000ull);
    assert_int_equal(l.r[2].size, 0xc0000000ull);
    assert_null(qemu_layout_find(&l, 0xd0000));     /* option ROM, not RAM */
    assert_null(qemu_layout_find(&l, 0x90000000));  /* PCI hole */
    const struct qemu_ram_range *r = qemu_layout_find(&l, 0x140000000ull);
    assert_non_null(r);
    assert_int_equal(r->offset + (0x140000000ull - r->gpa), 0xc0000000ull);
    free(text);
}

static void layout_garbage(void **state)
{
    (void)state;
    const char *bad[] = {
        "",
        "FlatView #0\n AS \"memory\"\n  zz-10 (prio 0, ram): ram0\n",
        "FlatView #0\n AS \"memory\"\n  10-0 (prio 0, ram): ram0\n",
        "FlatView #0\n AS \"memory\"\n  0-ffffffffffffffff (prio 0, ram): ram0\n",
        "FlatView #0\n AS \"memory\"\n  0-fff (prio 0, i/o): ram0\n",
        "FlatView #0\n AS \"memory\"\n  0-fff (prio 0, ram): ram0 @zz\n",
        "FlatView #0\n AS \"other\"\n  0-fff (prio 0, ram): ram0\n",
    };
    struct qemu_layout l;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(qemu_layout_parse_mtree(bad[i], strlen(bad[i]), "ram0", &l));
    const char *overlap = "FlatView #0\n AS \"memory\"\n  0-fff (prio 0, ram): ram0\n"
                          "  800-1fff (prio 0, ram): ram0 @800\n";
    assert_true(qemu_layout_parse_mtree(overlap, strlen(overlap), "ram0", &l));
    assert_int_equal(l.count, 1);
    assert_int_equal(l.r[0].size, 0x1000);
}

static void stop_replies(void **state)
{
    (void)state;
    struct qgdb_stop s;
    assert_true(qgdb_parse_stop("T05thread:01;", 13, &s));
    assert_int_equal(s.kind, 'T');
    assert_int_equal(s.signal, 5);
    assert_int_equal(s.thread, 1);
    assert_false(s.watch);
    const char *w = "T05thread:p01.02;watch:ffffffff82a079c0;";
    assert_true(qgdb_parse_stop(w, strlen(w), &s));
    assert_int_equal(s.thread, 2);
    assert_true(s.watch);
    assert_int_equal(s.watch_addr, 0xffffffff82a079c0ull);
    assert_int_equal(s.watch_access, MICROVMI_ACCESS_W);
    const char *a = "T05thread:03;awatch:10;";
    assert_true(qgdb_parse_stop(a, strlen(a), &s));
    assert_int_equal(s.watch_access, MICROVMI_ACCESS_RW);
    assert_true(qgdb_parse_stop("T02thread:01;", 13, &s));
    assert_int_equal(s.signal, 2);
    assert_true(qgdb_parse_stop("W00", 3, &s));
    assert_int_equal(s.kind, 'W');
    assert_true(qgdb_parse_stop("X09", 3, &s));
    assert_int_equal(s.kind, 'X');
    assert_true(qgdb_parse_stop("S05", 3, &s));
    assert_int_equal(s.thread, -1);
    assert_false(qgdb_parse_stop("OK", 2, &s));
    assert_false(qgdb_parse_stop("E01", 3, &s));
    assert_false(qgdb_parse_stop("T0", 2, &s));
    assert_false(qgdb_parse_stop("Tzz", 3, &s));
    assert_true(qgdb_parse_stop("T05thread:;watch:;;:", 20, &s));
    assert_false(s.watch);
}

static void target_description(void **state)
{
    (void)state;
    size_t len;
    char *xml = slurp("i386-64bit.xml", &len);
    struct tdesc t = { 0 };
    tdesc_parse_xml(&t, "<target><xi:include href=\"i386-64bit.xml\"/></target>", 52);
    assert_int_equal(t.nincludes, 1);
    assert_string_equal(t.includes[0], "i386-64bit.xml");
    assert_true(tdesc_parse_xml(&t, xml, len));
    tdesc_finish(&t);
    /* the commented-out ss/ds/es_base of QEMU 7.2 do not count */
    assert_null(tdesc_find(&t, "ss_base"));
    const struct tdesc_reg *rip = tdesc_find(&t, "rip"), *cr3 = tdesc_find(&t, "cr3"),
                           *mx = tdesc_find(&t, "mxcsr");
    assert_non_null(rip);
    assert_int_equal(rip->offset, 128);
    assert_int_equal(rip->regnum, 16);
    assert_non_null(cr3);
    assert_int_equal(cr3->regnum, 29);
    assert_int_equal(cr3->offset, 128 + 8 + 4 + 6 * 4 + 3 * 8 + 2 * 8);
    assert_non_null(mx);
    assert_int_equal(mx->offset + mx->bytes, 608); /* QEMU 7.2's `g` reply size */
    struct tdesc bad = { 0 };
    assert_false(tdesc_parse_xml(&bad, "<reg name=\"x\" bitsize=\"7\"/>", 27));
    assert_false(tdesc_parse_xml(&bad, "<reg bitsize=\"8\"/>", 18));
    tdesc_parse_xml(&bad, "<reg name=\"unterminated", 23);
    tdesc_parse_xml(&bad, "<!-- <reg name=\"a\" bitsize=\"8\"/>", 32);
    free(xml);
}

static int count_line(void *ctx, const char *line, size_t len)
{
    (void)line;
    (void)len;
    (*(int *)ctx)++;
    return 0;
}

static void qmp_lines_and_messages(void **state)
{
    (void)state;
    struct qmp_msg m;
    const char *ret = "{\"return\": {\"running\": true}, \"id\": 7}";
    qmp_parse_line(ret, strlen(ret), &m);
    assert_int_equal(m.kind, QMP_MSG_RETURN);
    assert_int_equal(m.id, 7);
    json_object_put(m.obj);
    const char *err = "{\"error\": {\"class\": \"GenericError\", \"desc\": \"nope\"}, \"id\": 8}";
    qmp_parse_line(err, strlen(err), &m);
    assert_int_equal(m.kind, QMP_MSG_ERROR);
    assert_string_equal(m.error_desc, "nope");
    json_object_put(m.obj);
    const char *ev = "{\"timestamp\": {\"seconds\": 1}, \"event\": \"STOP\"}";
    qmp_parse_line(ev, strlen(ev), &m);
    assert_int_equal(m.kind, QMP_MSG_EVENT);
    assert_string_equal(m.event, "STOP");
    json_object_put(m.obj);
    const char *bad[] = { "", "{", "[1]", "\"x\"", "{\"event\": 5}", "{\"return\": 1} trailing" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        qmp_parse_line(bad[i], strlen(bad[i]), &m);
        if (i != 5)
            assert_int_equal(m.kind, QMP_MSG_INVALID);
        json_object_put(m.obj);
    }
    struct qmp_lines l = { 0 };
    int n = 0;
    const char *stream = "{\"a\":1}\r\n{\"b\"";
    for (size_t i = 0; i < strlen(stream); i++)
        assert_true(qmp_lines_feed(&l, stream + i, 1, count_line, &n));
    assert_int_equal(n, 1);
    assert_true(qmp_lines_feed(&l, ":2}\n\n", 5, count_line, &n));
    assert_int_equal(n, 2);
    qmp_lines_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hmp_regs_linux),
        cmocka_unit_test(hmp_regs_32bit_and_garbage),
        cmocka_unit_test(layout_pc),
        cmocka_unit_test(layout_q35_above_4g),
        cmocka_unit_test(layout_garbage),
        cmocka_unit_test(stop_replies),
        cmocka_unit_test(target_description),
        cmocka_unit_test(qmp_lines_and_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
