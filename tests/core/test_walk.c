/*
 * The page walker on tables built here, for every paging mode and page
 * size, with non-present entries, reserved bits and bad addresses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "walk.h"

#define MEM_PAGES 64
#define P 0x1ull
#define RW 0x2ull
#define US 0x4ull
#define PS 0x80ull
#define XD (1ull << 63)

struct mem {
    unsigned char bytes[MEM_PAGES * 4096];
    size_t reads;
};

static enum microvmi_status mem_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
    struct mem *m = opaque;
    m->reads++;
    if (gpa >= sizeof m->bytes || len > sizeof m->bytes - gpa)
        return MICROVMI_NO_MEMORY_AT_ADDRESS;
    memcpy(buf, m->bytes + gpa, len);
    return MICROVMI_OK;
}

static void set64(struct mem *m, uint64_t gpa, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        m->bytes[gpa + i] = (unsigned char)(v >> (8 * i));
}

static void set32(struct mem *m, uint64_t gpa, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        m->bytes[gpa + i] = (unsigned char)(v >> (8 * i));
}

static uint64_t idx(uint64_t gva, unsigned shift, unsigned bits)
{
    return (gva >> shift) & ((1ull << bits) - 1);
}

struct result {
    enum microvmi_status st;
    struct microvmi_translation tr;
    char err[256];
};

static struct result walk(struct mem *m, const struct microvmi_address_space *as, uint64_t gva)
{
    struct result r;
    r.st = microvmi_walk(as, mem_read, m, gva, &r.tr, r.err, sizeof r.err);
    return r;
}

static int setup(void **state)
{
    *state = calloc(1, sizeof(struct mem));
    return *state ? 0 : -1;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static void test_paging_off_is_identity(void **state)
{
    struct microvmi_address_space as = { .mode = MICROVMI_PAGING_NONE };
    struct result r = walk(*state, &as, 0x12345678);
    assert_int_equal(r.st, MICROVMI_OK);
    assert_int_equal(r.tr.gpa, 0x12345678);
    assert_int_equal(r.tr.levels, 0);
    assert_true(r.tr.writable && r.tr.user && !r.tr.nx);
}

static void test_32bit_4k_and_4m(void **state)
{
    struct mem *m = *state;
    struct microvmi_address_space as = { .mode = MICROVMI_PAGING_32BIT, .cr3 = 0x1000 };
    uint64_t gva = 0x00401234;
    set32(m, 0x1000 + idx(gva, 22, 10) * 4, 0x2000 | P | RW);          /* supervisor PDE */
    set32(m, 0x2000 + idx(gva, 12, 10) * 4, 0x00abc000 | P | RW | US);
    struct result r = walk(m, &as, gva);
    assert_int_equal(r.st, MICROVMI_OK);
    assert_int_equal(r.tr.gpa, 0x00abc234);
    assert_int_equal(r.tr.page_size, 4096);
    assert_true(r.tr.writable);
    assert_false(r.tr.user); /* U/S is the AND over both levels */
    assert_false(r.tr.nx);
    assert_int_equal(r.tr.levels, 2);
    assert_int_equal(r.tr.entries[1], 0x00abc000 | P | RW | US);

    /* 4 MiB page with PSE-36: PDE bits 20:13 are PA bits 39:32. */
    uint64_t big = 0xc0123456;
    set32(m, 0x1000 + idx(big, 22, 10) * 4, 0xc0000000 | (0x5u << 13) | P | PS | US);
    as.pse = true;
    r = walk(m, &as, big);
    assert_int_equal(r.st, MICROVMI_OK);
    assert_int_equal(r.tr.gpa, 0x5c0123456ull);
    assert_int_equal(r.tr.page_size, 4ull << 20);
    assert_false(r.tr.writable);
    assert_true(r.tr.user);
    assert_int_equal(r.tr.levels, 1);

    /* Without CR4.PSE the PS bit is ignored: the PDE points to a page table
     * at 0xc0000000, which this guest does not have. */
    as.pse = false;
    r = walk(m, &as, big);
    assert_int_equal(r.st, MICROVMI_NO_MEMORY_AT_ADDRESS);
    assert_non_null(strstr(r.err, "cannot read PTE at GPA 0xc000a48c"));

    /* Bit 21 of a 4 MiB PDE is reserved; so are PA bits above MAXPHYADDR. */
    as.pse = true;
    set32(m, 0x1000 + idx(big, 22, 10) * 4, 0xc0000000 | (1u << 21) | P | PS);
    r = walk(m, &as, big);
    assert_int_equal(r.st, MICROVMI_TRANSLATION_FAULT);
    assert_non_null(strstr(r.err, "PDE at GPA 0x1c00 has reserved bits 0x200000 set"));
    set32(m, 0x1000 + idx(big, 22, 10) * 4, 0xc0000000 | (0x10u << 13) | P | PS);
    as.maxphyaddr = 36;
    r = walk(m, &as, big);
    assert_int_equal(r.st, MICROVMI_TRANSLATION_FAULT);
    as.maxphyaddr = 40;
    r = walk(m, &as, big);
    assert_int_equal(r.st, MICROVMI_OK);
    assert_int_equal(r.tr.gpa, 0x10c0123456ull);

    /* Not present, and out of the 32-bit range. */
    r = walk(m, &as, 0x00800000);
    assert_int_equal(r.st, MICROVMI_TRANSLATION_FAULT);
    assert_non_null(strstr(r.err, "GVA 0x800000 does not map: PDE at GPA 0x1008 is not present"));
    r = walk(m, &as, 0x100000000ull);
    assert_int_equal(r.st, MICROVMI_TRANSLATION_FAULT);
    assert_non_null(strstr(r.err, "above 4 GiB"));
}

static void test_pae_4k_2m_and_reserved(void **state)
{
    struct mem *m = *state;
    /* CR3 in PAE paging is 32-byte aligned, not page aligned. */
    struct microvmi_address_space as = { .mode = MICROVMI_PAGING_PAE, .cr3 = 0x1020, .nxe = true };
    uint64_t gva = 0xbfe01abc;
    set64(m, 0x1020 + idx(gva, 30, 2) * 8, 0x3000 | P);
    set64(m, 0x3000 + idx(gva, 21, 9) * 8, 0x4000 | P | RW | US);
    set64(m, 0x4000 + idx(gva, 12, 9) * 8, 0x7654321000ull | P | US | XD);
    struct result r = walk(m, &as, gva);
    assert_int_equal(r.st, MICROVMI_OK);
    assert_int_equal(r.tr.gpa, 0x7654321abcull);
    assert_int_equal(r.tr.page_size, 4096);
    assert_false(r.tr.writable);
    assert_true(r.tr.user);
    assert_true(r.tr.nx);
    assert_int_equal(r.tr.levels, 3);

    /* 2 MiB page; PAE ignores CR4.PSE. */
    uint64_t big = 0x40312345;
    set64(m, 0x1020 + idx(big, 30, 2) * 8, 0x5000 | P);
    set64(m, 0x5000 + idx(big, 21, 9) * 8, 0x12340000000ull | 0x200000 | P | RW | PS);
    r = walk(m, &as, big);
    assert_int_equal(r.st, MICROVMI_OK);
    assert_int_equal(r.tr.gpa, 0x12340200000ull + (big & 0x1fffff));
    assert_int_equal(r.tr.page_size, 2ull << 20);
    assert_true(r.tr.writable);
    assert_false(r.tr.user);

    /* Bits 20:13 of a 2 MiB PDE are reserved. */
    set64(m, 0x5000 + idx(big, 21, 9) * 8, 0x200000 | (1ull << 13) | P | PS);
    r = walk(m, &as, big);
    assert_int_equal(r.st, MICROVMI_TRANSLATION_FAULT);
    assert_non_null(strstr(r.err, "reserved bits 0x2000"));

    /* XD without EFER.NXE is a reserved bit. */
    as.nxe = false;
    r = walk(m, &as, gva);
    assert_int_equal(r.st, MICROVMI_TRANSLATION_FAULT);
    assert_non_null(strstr(r.err, "PTE"));
    assert_non_null(strstr(r.err, "reserved bits 0x8000000000000000"));

    /* PDPTE: R/W is reserved there. */
    as.nxe = true;
    set64(m, 0x1020 + idx(gva, 30, 2) * 8, 0x3000 | P | RW);
    r = walk(m, &as, gva);
    assert_int_equal(r.st, MICROVMI_TRANSLATION_FAULT);
    assert_non_null(strstr(r.err, "PDPTE at GPA 0x1030 has reserved bits 0x2 set"));

    /* Physical address bits at or above MAXPHYADDR. */
    set64(m, 0x1020 + idx(gva, 30, 2) * 8, 0x3000 | P);
    as.maxphyaddr = 36;
    r = walk(m, &as, gva);
    assert_int_equal(r.st, MICROVMI_TRANSLATION_FAULT);
    assert_non_null(strstr(r.err, "PTE at GPA"));
    assert_non_null(strstr(r.err, "reserved bits 0x7000000000"));

    /* A non-present PDPTE. */
    r = walk(m, &as, 0x00001000);
    assert_int_equal(r.st, MICROVMI_TRANSLATION_FAULT);
    assert_non_null(strstr(r.err, "PDPTE at GPA 0x1020 is not present"));
}

/* Build a 4-level chain for gva: PML4 at 0x1000, then tables at next.. */
static void map4(struct mem *m, uint64_t pml4, uint64_t gva, uint64_t leaf_level_entry,
                 int leaf_shift, uint64_t upper_flags)
{
    uint64_t table = pml4, next = 0x10000 + (idx(gva, 39, 9) % 8) * 0x3000;
    int shifts[] = { 39, 30, 21, 12 };
    for (int i = 0; i < 4; i++) {
        uint64_t at = table + idx(gva, (unsigned)shifts[i], 9) * 8;
        if (shifts[i] == leaf_shift) {
            set64(m, at, leaf_level_entry);
            return;
        }
        set64(m, at, next | upper_flags);
        table = next;
        next += 0x1000;
    }
}

static void test_4level_all_page_sizes(void **state)
{
    struct mem *m = *state;
    struct microvmi_address_space as = { .mode = MICROVMI_PAGING_4LEVEL, .cr3 = 0x1000,
                                         .nxe = true };
    uint64_t gva = 0xffff800000201abcull;
    map4(m, 0x1000, gva, 0xabcdef000ull | P | RW | US, 12, P | RW | US);
    struct result r = walk(m, &as, gva);
    assert_int_equal(r.st, MICROVMI_OK);
    assert_int_equal(r.tr.gpa, 0xabcdefabcull);
    assert_int_equal(r.tr.page_size, 4096);
    assert_true(r.tr.writable && r.tr.user && !r.tr.nx);
    assert_int_equal(r.tr.levels, 4);

    /* 2 MiB page at the PDE, NX inherited from an upper level. */
    uint64_t g2 = 0x00007f0000400123ull;
    map4(m, 0x1000, g2, 0x40000000ull | P | RW | PS, 21, P | RW | US | XD);
    r = walk(m, &as, g2);
    assert_int_equal(r.st, MICROVMI_OK);
    assert_int_equal(r.tr.gpa, 0x40000123ull);
    assert_int_equal(r.tr.page_size, 2ull << 20);
    assert_true(r.tr.nx);
    assert_false(r.tr.user);
    assert_int_equal(r.tr.levels, 3);

    /* 1 GiB page at the PDPTE, read-only at PML4. */
    uint64_t g1 = 0x0000004087654321ull;
    map4(m, 0x1000, g1, 0x80000000ull | P | RW | US | PS, 30, P | US);
    r = walk(m, &as, g1);
    assert_int_equal(r.st, MICROVMI_OK);
    assert_int_equal(r.tr.gpa, 0x80000000ull + (g1 & 0x3fffffff));
    assert_int_equal(r.tr.page_size, 1ull << 30);
    assert_false(r.tr.writable);
    assert_true(r.tr.user);
    assert_int_equal(r.tr.levels, 2);

    /* Bits 29:13 of a 1 GiB PDPTE are reserved. */
    map4(m, 0x1000, g1, 0x80000000ull | 0x100000 | P | PS, 30, P);
    r = walk(m, &as, g1);
    assert_int_equal(r.st, MICROVMI_TRANSLATION_FAULT);
    assert_non_null(strstr(r.err, "PDPTE"));
    assert_non_null(strstr(r.err, "reserved bits 0x100000"));

    /* PS in a PML4E is reserved. */
    uint64_t g4 = 0x0000600000000000ull;
    set64(m, 0x1000 + idx(g4, 39, 9) * 8, 0x9000 | P | PS);
    r = walk(m, &as, g4);
    assert_int_equal(r.st, MICROVMI_TRANSLATION_FAULT);
    assert_non_null(strstr(r.err, "PML4E"));
    assert_non_null(strstr(r.err, "reserved bits 0x80"));

    /* A non-present PTE names the GVA, the entry and where it lives. */
    uint64_t gn = 0xffff800000202000ull;
    r = walk(m, &as, gn);
    assert_int_equal(r.st, MICROVMI_TRANSLATION_FAULT);
    assert_non_null(strstr(r.err, "GVA 0xffff800000202000 does not map: PTE at GPA 0x"));
    assert_non_null(strstr(r.err, "is not present"));
    assert_int_equal(r.tr.levels, 4);

    /* Non-canonical addresses never reach the tables. */
    m->reads = 0;
    r = walk(m, &as, 0x0000800000000000ull);
    assert_int_equal(r.st, MICROVMI_TRANSLATION_FAULT);
    assert_non_null(strstr(r.err, "not canonical"));
    assert_int_equal(m->reads, 0);

    /* A table outside guest memory: the reader's status comes back. */
    set64(m, 0x1000 + idx(0x0000008000000000ull, 39, 9) * 8, 0x7fff000000ull | P);
    r = walk(m, &as, 0x0000008000000000ull);
    assert_int_equal(r.st, MICROVMI_NO_MEMORY_AT_ADDRESS);
    assert_non_null(strstr(r.err, "cannot read PDPTE at GPA 0x7fff000000"));

    /* Guards: NULL arguments and a bogus MAXPHYADDR. */
    assert_int_equal(microvmi_walk(NULL, mem_read, m, 0, &r.tr, NULL, 0), MICROVMI_INVALID_ARG);
    as.maxphyaddr = 60;
    r = walk(m, &as, gva);
    assert_int_equal(r.st, MICROVMI_INVALID_ARG);
}

static void test_5level(void **state)
{
    struct mem *m = *state;
    struct microvmi_address_space as = { .mode = MICROVMI_PAGING_5LEVEL, .cr3 = 0x1000,
                                         .nxe = true };
    uint64_t gva = 0xff80000000003456ull; /* PML5 index 256: needs all 57 bits */
    set64(m, 0x1000 + idx(gva, 48, 9) * 8, 0x2000 | P | RW | US);
    set64(m, 0x2000 + idx(gva, 39, 9) * 8, 0x3000 | P | RW | US);
    set64(m, 0x3000 + idx(gva, 30, 9) * 8, 0x4000 | P | RW | US);
    set64(m, 0x4000 + idx(gva, 21, 9) * 8, 0x5000 | P | RW | US);
    set64(m, 0x5000 + idx(gva, 12, 9) * 8, 0x1234567000ull | P | RW);
    struct result r = walk(m, &as, gva);
    assert_int_equal(r.st, MICROVMI_OK);
    assert_int_equal(r.tr.gpa, 0x1234567456ull);
    assert_int_equal(r.tr.levels, 5);
    assert_false(r.tr.user);

    /* The same address is not canonical for 4-level paging. */
    struct microvmi_address_space as4 = as;
    as4.mode = MICROVMI_PAGING_4LEVEL;
    r = walk(m, &as4, gva);
    assert_int_equal(r.st, MICROVMI_TRANSLATION_FAULT);
    assert_non_null(strstr(r.err, "4-level"));

    /* Bit 56 set without bits 63:57 is not canonical for 5-level paging. */
    r = walk(m, &as, 0x0100000000000000ull);
    assert_int_equal(r.st, MICROVMI_TRANSLATION_FAULT);
    assert_non_null(strstr(r.err, "5-level"));

    /* PS in a PML5E is reserved; a non-present PML5E is reported as such. */
    set64(m, 0x1000 + idx(gva, 48, 9) * 8, 0x2000 | P | PS);
    r = walk(m, &as, gva);
    assert_int_equal(r.st, MICROVMI_TRANSLATION_FAULT);
    assert_non_null(strstr(r.err, "PML5E"));
    r = walk(m, &as, 0x1000);
    assert_int_equal(r.st, MICROVMI_TRANSLATION_FAULT);
    assert_non_null(strstr(r.err, "PML5E at GPA 0x1000 is not present"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_paging_off_is_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_32bit_4k_and_4m, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pae_4k_2m_and_reserved, setup, teardown),
        cmocka_unit_test_setup_teardown(test_4level_all_page_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_5level, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
