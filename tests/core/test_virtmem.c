/*
 * Virtual memory through a handle: translate, read/write across pages that
 * are not contiguous physically, partial counts, and the address space a
 * vCPU is in according to its registers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "handle.h"

#define P 0x1ull
#define RW 0x2ull
#define US 0x4ull

struct fake {
    unsigned char mem[32 * 4096];
    struct microvmi_x86_regs regs;
    bool native_translate;
};

static enum microvmi_status fake_open(microvmi_t *vm, const struct microvmi_params *p, void **ctx)
{
    (void)vm, (void)p;
    *ctx = calloc(1, sizeof(struct fake));
    return MICROVMI_OK;
}

static void fake_close(void *ctx)
{
    free(ctx);
}

static enum microvmi_status fake_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
    struct fake *f = ctx;
    if (gpa >= sizeof f->mem)
        return MICROVMI_NO_MEMORY_AT_ADDRESS;
    memcpy(buf, f->mem + gpa, len);
    return MICROVMI_OK;
}

static enum microvmi_status fake_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
    struct fake *f = ctx;
    if (gpa >= sizeof f->mem)
        return MICROVMI_NO_MEMORY_AT_ADDRESS;
    memcpy(f->mem + gpa, buf, len);
    return MICROVMI_OK;
}

static enum microvmi_status fake_regs(void *ctx, uint32_t vcpu, struct microvmi_x86_regs *regs)
{
    struct fake *f = ctx;
    if (vcpu)
        return MICROVMI_INVALID_ARG;
    *regs = f->regs;
    return MICROVMI_OK;
}

static const struct microvmi_driver_ops fake_ops = {
    .info = { .name = "fake", .description = "", .params = "", .limits = "" },
    .open = fake_open,
    .close = fake_close,
    .read_physical = fake_read,
    .write_physical = fake_write,
    .read_registers = fake_regs,
};

static void set64(struct fake *f, uint64_t gpa, uint64_t v)
{
    memcpy(f->mem + gpa, &v, 8); /* x86 hosts only, like the guests */
}

static int setup(void **state)
{
    microvmi_t *vm = NULL;
    assert_int_equal(microvmi_init_with_ops(&fake_ops, NULL, &vm, NULL), MICROVMI_OK);
    struct fake *f = vm->ctx;
    /* 4-level: PML4 0x1000 -> PDPT 0x2000 -> PD 0x3000 -> PT 0x4000.
     * GVA 0x400000 -> frame 9, 0x401000 -> frame 6, 0x402000 not present. */
    set64(f, 0x1000, 0x2000 | P | RW | US);
    set64(f, 0x2000, 0x3000 | P | RW | US);
    set64(f, 0x3000 + 2 * 8, 0x4000 | P | RW | US);
    set64(f, 0x4000 + 0 * 8, 0x9000 | P | RW);
    set64(f, 0x4000 + 1 * 8, 0x6000 | P | RW);
    for (int i = 0; i < 4096; i++) {
        f->mem[0x9000 + i] = (unsigned char)i;
        f->mem[0x6000 + i] = (unsigned char)(i ^ 0x5a);
    }
    *state = vm;
    return 0;
}

static int teardown(void **state)
{
    microvmi_destroy(*state);
    return 0;
}

static const struct microvmi_address_space as4 = { .mode = MICROVMI_PAGING_4LEVEL,
                                                   .cr3 = 0x1000, .nxe = true };

static void test_translate(void **state)
{
    microvmi_t *vm = *state;
    struct microvmi_translation tr;
    assert_int_equal(microvmi_translate(vm, &as4, 0x401234, &tr), MICROVMI_OK);
    assert_int_equal(tr.gpa, 0x6234);
    assert_int_equal(tr.page_size, 4096);
    assert_true(tr.writable);
    assert_false(tr.user);
    assert_int_equal(microvmi_translate(vm, &as4, 0x402000, &tr), MICROVMI_TRANSLATION_FAULT);
    assert_non_null(strstr(microvmi_last_error(vm), "GVA 0x402000 does not map: PTE at GPA 0x4010"));
    assert_int_equal(microvmi_translate(vm, NULL, 0, &tr), MICROVMI_INVALID_ARG);
}

static void test_read_virtual_across_frames(void **state)
{
    microvmi_t *vm = *state;
    struct fake *f = vm->ctx;
    unsigned char buf[0x200];
    size_t done = 0;
    assert_int_equal(microvmi_read_virtual(vm, &as4, 0x400f00, buf, sizeof buf, &done),
                     MICROVMI_OK);
    assert_int_equal(done, sizeof buf);
    assert_memory_equal(buf, f->mem + 0x9f00, 0x100);
    assert_memory_equal(buf + 0x100, f->mem + 0x6000, 0x100);

    unsigned char big[0x1100];
    assert_int_equal(microvmi_read_virtual(vm, &as4, 0x401000, big, sizeof big, &done),
                     MICROVMI_TRANSLATION_FAULT);
    assert_int_equal(done, 0x1000);
    assert_non_null(strstr(microvmi_last_error(vm), "cannot read virtual 0x402000 (4096 of 4352"));
}

static void test_write_virtual(void **state)
{
    microvmi_t *vm = *state;
    struct fake *f = vm->ctx;
    unsigned char data[16];
    memset(data, 0xee, sizeof data);
    size_t done = 0;
    assert_int_equal(microvmi_write_virtual(vm, &as4, 0x400ff8, data, sizeof data, &done),
                     MICROVMI_OK);
    assert_int_equal(done, 16);
    assert_memory_equal(f->mem + 0x9ff8, data, 8);
    assert_memory_equal(f->mem + 0x6000, data, 8);
}

static void test_paging_off(void **state)
{
    microvmi_t *vm = *state;
    struct fake *f = vm->ctx;
    struct microvmi_address_space none = { .mode = MICROVMI_PAGING_NONE };
    unsigned char buf[4];
    assert_int_equal(microvmi_read_virtual(vm, &none, 0x9010, buf, 4, NULL), MICROVMI_OK);
    assert_memory_equal(buf, f->mem + 0x9010, 4);
}

static void test_vcpu_address_space(void **state)
{
    microvmi_t *vm = *state;
    struct fake *f = vm->ctx;
    struct microvmi_address_space as;

    f->regs.present = MICROVMI_REGS_GPR;
    assert_int_equal(microvmi_vcpu_address_space(vm, 0, &as), MICROVMI_NOT_SUPPORTED);
    assert_non_null(strstr(microvmi_last_error(vm), "control registers"));

    f->regs.present = MICROVMI_REGS_CONTROL | MICROVMI_REGS_MSRS;
    f->regs.cr0 = 0x11;
    assert_int_equal(microvmi_vcpu_address_space(vm, 0, &as), MICROVMI_OK);
    assert_int_equal(as.mode, MICROVMI_PAGING_NONE);

    f->regs.cr0 = 0x80000011;
    f->regs.cr3 = 0x1000;
    f->regs.cr4 = 0x10; /* PSE */
    assert_int_equal(microvmi_vcpu_address_space(vm, 0, &as), MICROVMI_OK);
    assert_int_equal(as.mode, MICROVMI_PAGING_32BIT);
    assert_true(as.pse);
    assert_int_equal(as.cr3, 0x1000);

    f->regs.cr4 = 0x20; /* PAE */
    f->regs.efer = 0x800; /* NXE */
    assert_int_equal(microvmi_vcpu_address_space(vm, 0, &as), MICROVMI_OK);
    assert_int_equal(as.mode, MICROVMI_PAGING_PAE);
    assert_true(as.nxe);
    assert_false(as.pse);

    f->regs.efer = 0x500; /* LME | LMA, no NXE */
    assert_int_equal(microvmi_vcpu_address_space(vm, 0, &as), MICROVMI_OK);
    assert_int_equal(as.mode, MICROVMI_PAGING_4LEVEL);
    assert_false(as.nxe);

    f->regs.cr4 = 0x1020; /* PAE | LA57 */
    assert_int_equal(microvmi_vcpu_address_space(vm, 0, &as), MICROVMI_OK);
    assert_int_equal(as.mode, MICROVMI_PAGING_5LEVEL);

    /* Without EFER, long mode is inferred from a 64-bit code segment. */
    f->regs.present = MICROVMI_REGS_CONTROL | MICROVMI_REGS_SEGMENTS;
    f->regs.cr4 = 0x20;
    f->regs.cs.attributes = 0xa9b; /* L=1 */
    assert_int_equal(microvmi_vcpu_address_space(vm, 0, &as), MICROVMI_OK);
    assert_int_equal(as.mode, MICROVMI_PAGING_4LEVEL);
    f->regs.cs.attributes = 0xc9b; /* 32-bit code */
    assert_int_equal(microvmi_vcpu_address_space(vm, 0, &as), MICROVMI_OK);
    assert_int_equal(as.mode, MICROVMI_PAGING_PAE);

    assert_int_equal(microvmi_vcpu_address_space(vm, 3, &as), MICROVMI_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_translate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_virtual_across_frames, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_virtual, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paging_off, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vcpu_address_space, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
