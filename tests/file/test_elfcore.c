/*
 * The file driver on ELF cores built here: PT_LOAD by physical address with
 * zero fill and holes, registers per vCPU from NT_PRSTATUS (x86-64 and i386
 * layouts) and QEMU notes, and malformed cores refused with a message.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "elfcore_build.h"
#include "test_file_common.h"

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* x86-64 NT_PRSTATUS: pr_reg at 112, user_regs_struct order. */
static void prstatus64(unsigned char d[336], uint64_t seed)
{
    memset(d, 0, 336);
    for (int i = 0; i < 27; i++)
        put64(d + 112 + 8 * i, seed + (uint64_t)i);
}

/* i386 NT_PRSTATUS: pr_reg at 72, 17 dwords. */
static void prstatus32(unsigned char d[144], uint32_t seed)
{
    memset(d, 0, 144);
    for (int i = 0; i < 17; i++)
        put32(d + 72 + 4 * i, seed + (uint32_t)i);
}

/* QEMUCPUState version 1 (432 bytes): 64-bit code segment, paging on. */
static void qemu_state(unsigned char d[432], uint64_t seed, uint64_t cr3)
{
    memset(d, 0, 432);
    put32(d, 1);
    put32(d + 4, 432);
    for (int i = 0; i < 18; i++)
        put64(d + 8 + 8 * i, seed + (uint64_t)i); /* rax..r15, rip, rflags */
    /* cs: selector 0x10, limit 0xfffff, flags = G|L|P|S|type 0xb (QEMU's layout) */
    put32(d + 152, 0x10);
    put32(d + 152 + 4, 0xfffff);
    put32(d + 152 + 8, (1u << 23) | (1u << 21) | (1u << 15) | (1u << 12) | (0xbu << 8));
    put64(d + 152 + 16, 0);
    put64(d + 152 + 24 * 3 + 16, 0x7f0000001000ull);           /* fs base */
    put32(d + 152 + 24 * 8 + 4, 0x7f);                         /* gdt limit */
    put64(d + 152 + 24 * 8 + 16, 0xfffffe0000001000ull);      /* gdt base */
    put64(d + 392, 0x80050033);                                /* cr0 */
    put64(d + 392 + 16, 0xdead000);                            /* cr2 */
    put64(d + 392 + 24, cr3);                                  /* cr3 */
    put64(d + 392 + 32, 0x6a0);                                /* cr4 */
}

struct fixture {
    char *path;
    microvmi_t *vm;
};

static const struct core_load loads64[] = {
    { 0x0, 0x3000, 0x3000, 0x11 },
    { 0x100000, 0x2000, 0x1800, 0x22 }, /* the last 0x800 bytes read as zero */
};

static int setup64(void **state)
{
    unsigned char p0[336], p1[336], q0[432], q1[432];
    prstatus64(p0, 0x1000);
    prstatus64(p1, 0x2000);
    qemu_state(q0, 0xa000, 0x1000);
    qemu_state(q1, 0xb000, 0x2000);
    const struct core_note notes[] = {
        { "CORE", NT_PRSTATUS, p0, 336 }, { "CORE", NT_PRSTATUS, p1, 336 },
        { "QEMU", 0, q0, 432 },          { "QEMU", 0, q1, 432 },
        { "XYZ", 7, "abc", 3 },
    };
    struct core_buf b = core_build(ELFCLASS64, EM_X86_64, ET_CORE, loads64, 2, notes, 5);
    struct fixture *fx = calloc(1, sizeof *fx);
    fx->path = write_temp(b.data, b.len);
    free(b.data);
    char *err = NULL;
    enum microvmi_status st = open_file(fx->path, "auto", &fx->vm, &err);
    if (st != MICROVMI_OK)
        fail_msg("open: %s", err);
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

static void test_memory(void **state)
{
    struct fixture *fx = *state;
    unsigned char buf[0x1000];
    size_t done;
    uint64_t gfn;
    assert_int_equal(microvmi_max_gfn(fx->vm, &gfn), MICROVMI_OK);
    assert_int_equal(gfn, 0x101);
    assert_int_equal(microvmi_read_physical(fx->vm, 0x2ff0, buf, 0x10, &done), MICROVMI_OK);
    for (int i = 0; i < 0x10; i++)
        assert_int_equal(buf[i], 0x11 ^ ((0x2ff0 + i) & 0xff));
    /* Across the end of the file part: data, then zeros up to p_memsz. */
    assert_int_equal(microvmi_read_physical(fx->vm, 0x1017f0, buf, 0x20, &done), MICROVMI_OK);
    for (int i = 0; i < 0x10; i++)
        assert_int_equal(buf[i], 0x22 ^ ((0x17f0 + i) & 0xff));
    for (int i = 0x10; i < 0x20; i++)
        assert_int_equal(buf[i], 0);
    /* A hole between segments. */
    assert_int_equal(microvmi_read_physical(fx->vm, 0x2ff8, buf, 0x10, &done),
                     MICROVMI_NO_MEMORY_AT_ADDRESS);
    assert_int_equal(done, 8);
    assert_non_null(strstr(microvmi_last_error(fx->vm), "0x3000"));
    assert_int_equal(microvmi_read_physical(fx->vm, 0x102000, buf, 1, &done),
                     MICROVMI_NO_MEMORY_AT_ADDRESS);
    /* Foreign mapping only where the file holds the bytes. */
    void *host;
    assert_int_equal(microvmi_map_physical(fx->vm, 0x100000, 0x1800, false, &host), MICROVMI_OK);
    assert_int_equal(((unsigned char *)host)[5], 0x22 ^ 5);
    assert_int_equal(microvmi_map_physical(fx->vm, 0x100000, 0x1801, false, &host),
                     MICROVMI_NOT_SUPPORTED);
}

static void test_registers(void **state)
{
    struct fixture *fx = *state;
    uint32_t n;
    assert_int_equal(microvmi_vcpu_count(fx->vm, &n), MICROVMI_OK);
    assert_int_equal(n, 2);
    assert_true(microvmi_capabilities(fx->vm) & MICROVMI_CAP_READ_REGISTERS);
    struct microvmi_x86_regs r;
    for (uint32_t v = 0; v < 2; v++) {
        assert_int_equal(microvmi_read_registers(fx->vm, v, &r), MICROVMI_OK);
        uint64_t q = v ? 0xb000 : 0xa000;
        /* The QEMU note (more complete) wins over NT_PRSTATUS. */
        assert_int_equal(r.rax, q + 0);
        assert_int_equal(r.rsp, q + 6);
        assert_int_equal(r.r15, q + 15);
        assert_int_equal(r.rip, q + 16);
        assert_int_equal(r.rflags, q + 17);
        assert_int_equal(r.cs.selector, 0x10);
        assert_int_equal(r.cs.limit, 0xfffff);
        assert_int_equal(r.cs.attributes, 0xa9b); /* G, L, P, S, type b */
        assert_int_equal(r.fs.base, 0x7f0000001000ull);
        assert_int_equal(r.gdtr.base, 0xfffffe0000001000ull);
        assert_int_equal(r.gdtr.limit, 0x7f);
        assert_int_equal(r.cr0, 0x80050033);
        assert_int_equal(r.cr2, 0xdead000);
        assert_int_equal(r.cr3, v ? 0x2000 : 0x1000);
        assert_int_equal(r.cr4, 0x6a0);
        assert_true(r.present & MICROVMI_REGS_CONTROL);
        assert_true(r.present & MICROVMI_REGS_SEGMENTS);
        assert_false(r.present & MICROVMI_REGS_MSRS);
    }
    assert_int_equal(microvmi_read_registers(fx->vm, 2, &r), MICROVMI_INVALID_ARG);
    assert_non_null(strstr(microvmi_last_error(fx->vm), "has 2 vCPUs"));

    /* Long mode is inferred from the 64-bit code segment. */
    struct microvmi_address_space as;
    assert_int_equal(microvmi_vcpu_address_space(fx->vm, 1, &as), MICROVMI_OK);
    assert_int_equal(as.mode, MICROVMI_PAGING_4LEVEL);
    assert_int_equal(as.cr3, 0x2000);
    char desc[1024];
    assert_int_equal(microvmi_describe(fx->vm, desc, sizeof desc), MICROVMI_OK);
    assert_non_null(strstr(desc, "ELF64 core"));
    assert_non_null(strstr(desc, "QEMU CPU state"));
}

static void test_prstatus_only(void **state)
{
    (void)state;
    unsigned char p0[336];
    prstatus64(p0, 0x500);
    const struct core_note notes[] = { { "CORE", NT_PRSTATUS, p0, 336 } };
    struct core_buf b = core_build(ELFCLASS64, EM_X86_64, ET_CORE, loads64, 1, notes, 1);
    char *path = write_temp(b.data, b.len);
    free(b.data);
    microvmi_t *vm;
    assert_int_equal(open_file(path, "elf", &vm, NULL), MICROVMI_OK);
    struct microvmi_x86_regs r;
    assert_int_equal(microvmi_read_registers(vm, 0, &r), MICROVMI_OK);
    /* r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss
     * fs_base gs_base ds es fs gs */
    assert_int_equal(r.r15, 0x500);
    assert_int_equal(r.rbp, 0x504);
    assert_int_equal(r.rax, 0x50a);
    assert_int_equal(r.rdi, 0x50e);
    assert_int_equal(r.rip, 0x510);
    assert_int_equal(r.cs.selector, 0x511);
    assert_int_equal(r.rflags, 0x512);
    assert_int_equal(r.rsp, 0x513);
    assert_int_equal(r.ss.selector, 0x514);
    assert_int_equal(r.fs.base, 0x515);
    assert_int_equal(r.gs.base, 0x516);
    assert_int_equal(r.gs.selector, 0x51a);
    assert_int_equal(r.present, MICROVMI_REGS_GPR);
    struct microvmi_address_space as;
    assert_int_equal(microvmi_vcpu_address_space(vm, 0, &as), MICROVMI_NOT_SUPPORTED);
    microvmi_destroy(vm);
    unlink(path);
    free(path);
}

static void test_elf32_core(void **state)
{
    (void)state;
    unsigned char p0[144], p1[144];
    prstatus32(p0, 0x100);
    prstatus32(p1, 0x200);
    const struct core_load loads[] = { { 0x0, 0x2000, 0x2000, 0x33 } };
    const struct core_note notes[] = { { "CORE", NT_PRSTATUS, p0, 144 },
                                       { "CORE", NT_PRSTATUS, p1, 144 } };
    struct core_buf b = core_build(ELFCLASS32, EM_386, ET_CORE, loads, 1, notes, 2);
    char *path = write_temp(b.data, b.len);
    free(b.data);
    microvmi_t *vm;
    char *err = NULL;
    if (open_file(path, "auto", &vm, &err) != MICROVMI_OK)
        fail_msg("open: %s", err);
    uint32_t n;
    assert_int_equal(microvmi_vcpu_count(vm, &n), MICROVMI_OK);
    assert_int_equal(n, 2);
    struct microvmi_x86_regs r;
    assert_int_equal(microvmi_read_registers(vm, 1, &r), MICROVMI_OK);
    /* ebx ecx edx esi edi ebp eax ds es fs gs orig_eax eip cs eflags esp ss */
    assert_int_equal(r.rbx, 0x200);
    assert_int_equal(r.rax, 0x206);
    assert_int_equal(r.ds.selector, 0x207);
    assert_int_equal(r.rip, 0x20c);
    assert_int_equal(r.cs.selector, 0x20d);
    assert_int_equal(r.rflags, 0x20e);
    assert_int_equal(r.rsp, 0x20f);
    assert_int_equal(r.ss.selector, 0x210);
    unsigned char buf[4];
    assert_int_equal(microvmi_read_physical(vm, 0x1ffe, buf, 2, NULL), MICROVMI_OK);
    assert_int_equal(buf[1], 0x33 ^ 0xff);
    microvmi_destroy(vm);
    unlink(path);
    free(path);
}

static void expect_refused(struct core_buf b, const char *format, const char *why)
{
    char *path = write_temp(b.data, b.len);
    free(b.data);
    microvmi_t *vm = NULL;
    char *err = NULL;
    enum microvmi_status st = open_file(path, format, &vm, &err);
    if (st == MICROVMI_OK)
        fail_msg("a bad core was accepted (expected: %s)", why);
    assert_null(vm);
    if (!strstr(err, why))
        fail_msg("message '%s' lacks '%s'", err, why);
    free(err);
    unlink(path);
    free(path);
}

static void test_bad_cores(void **state)
{
    (void)state;
    const struct core_load none[] = { { 0, 0, 0, 0 } };
    expect_refused(core_build(ELFCLASS64, EM_X86_64, ET_EXEC, loads64, 1, NULL, 0), "auto",
                   "not a core");
    expect_refused(core_build(ELFCLASS64, EM_AARCH64, ET_CORE, loads64, 1, NULL, 0), "auto",
                   "not x86");
    expect_refused(core_build(ELFCLASS64, EM_X86_64, ET_CORE, none, 0, NULL, 0), "auto",
                   "no PT_LOAD");

    /* Truncate the file inside the second segment's data. */
    struct core_buf b = core_build(ELFCLASS64, EM_X86_64, ET_CORE, loads64, 2, NULL, 0);
    b.len -= 0x100;
    expect_refused(b, "auto", "truncated");

    /* A segment that wraps the address space. */
    const struct core_load wrap[] = { { UINT64_MAX - 0xfff, 0x2000, 0x10, 1 } };
    expect_refused(core_build(ELFCLASS64, EM_X86_64, ET_CORE, wrap, 1, NULL, 0), "auto", "wraps");

    /* A PT_NOTE of 80 MiB (sparse file): refused before libelf copies it. */
    struct core_buf big = core_build(ELFCLASS64, EM_X86_64, ET_CORE, loads64, 1, NULL, 0);
    Elf64_Phdr *note_ph = (Elf64_Phdr *)(big.data + sizeof(Elf64_Ehdr));
    note_ph->p_filesz = 80u << 20;
    off_t big_size = (off_t)note_ph->p_offset + (81 << 20);
    char *big_path = write_temp(big.data, big.len);
    free(big.data);
    assert_int_equal(truncate(big_path, big_size), 0);
    microvmi_t *big_vm = NULL;
    char *big_err = NULL;
    assert_int_equal(open_file(big_path, "auto", &big_vm, &big_err), MICROVMI_INIT_FAILED);
    assert_non_null(strstr(big_err, "more than any core's notes"));
    free(big_err);
    unlink(big_path);
    free(big_path);

    /* Plain data with format=elf. */
    char junk[64] = "not an elf file at all";
    struct core_buf j = { malloc(sizeof junk), sizeof junk, sizeof junk };
    memcpy(j.data, junk, sizeof junk);
    expect_refused(j, "elf", "not an ELF file");

    /* Malformed notes are skipped, not fatal: short descriptors give no vCPU. */
    unsigned char tiny[16] = { 0 };
    const struct core_note bad_notes[] = { { "CORE", NT_PRSTATUS, tiny, 16 },
                                           { "QEMU", 0, tiny, 16 } };
    struct core_buf c = core_build(ELFCLASS64, EM_X86_64, ET_CORE, loads64, 1, bad_notes, 2);
    char *path = write_temp(c.data, c.len);
    free(c.data);
    microvmi_t *vm;
    assert_int_equal(open_file(path, "auto", &vm, NULL), MICROVMI_OK);
    struct microvmi_x86_regs r;
    assert_int_equal(microvmi_read_registers(vm, 0, &r), MICROVMI_NOT_SUPPORTED);
    assert_non_null(strstr(microvmi_last_error(vm), "no NT_PRSTATUS"));
    microvmi_destroy(vm);

    /* format=raw reads any file, ELF or not, as raw memory. */
    assert_int_equal(open_file(path, "raw", &vm, NULL), MICROVMI_OK);
    unsigned char magic[4];
    assert_int_equal(microvmi_read_physical(vm, 0, magic, 4, NULL), MICROVMI_OK);
    assert_memory_equal(magic, "\177ELF", 4);
    microvmi_destroy(vm);
    unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_memory, setup64, teardown),
        cmocka_unit_test_setup_teardown(test_registers, setup64, teardown),
        cmocka_unit_test(test_prstatus_only),
        cmocka_unit_test(test_elf32_core),
        cmocka_unit_test(test_bad_cores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
