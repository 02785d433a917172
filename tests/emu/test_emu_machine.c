/* The emu driver's machine: boot of the bundled guest, pause/resume (VM and
 * one vCPU), registers, physical/virtual memory, foreign mapping, params. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "emu_test.h"

static void boots_and_runs(void **state)
{
    (void)state;
    char serial[] = "/tmp/microvmi-emu-serial-XXXXXX";
    int fd = mkstemp(serial);
    assert_true(fd >= 0);
    close(fd);
    char param[128];
    snprintf(param, sizeof param, "serial=%s", serial);
    microvmi_t *vm = open_guest(param, NULL);
    assert_non_null(vm);
    uint64_t counter = sym("guest_counter"), percpu = sym("guest_percpu_counter");
    assert_true(counter && percpu);
    uint64_t first = wait_above(vm, counter, 0, 10);
    assert_true(first > 0);
    assert_true(wait_above(vm, counter, first + 1000, 10) > first + 1000);
    /* Both vCPUs tick. */
    assert_true(wait_above(vm, percpu, 100, 10) > 100);
    assert_true(wait_above(vm, percpu + 8, 100, 10) > 100);
    uint32_t n = 0;
    assert_int_equal(microvmi_vcpu_count(vm, &n), MICROVMI_OK);
    assert_int_equal(n, 2);
    uint64_t max_gfn = 0;
    assert_int_equal(microvmi_max_gfn(vm, &max_gfn), MICROVMI_OK);
    assert_int_equal(max_gfn, (64u << 20) / 4096 - 1);
    microvmi_destroy(vm);
    FILE *f = fopen(serial, "r");
    assert_non_null(f);
    char buf[4096] = {0};
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    unlink(serial);
    assert_true(got > 0);
    assert_non_null(strstr(buf, "guest: up"));
    assert_null(strstr(buf, "panic"));
}

static void pause_resume(void **state)
{
    (void)state;
    microvmi_t *vm = open_guest(NULL);
    assert_non_null(vm);
    uint64_t counter = sym("guest_counter"), percpu = sym("guest_percpu_counter");
    assert_true(wait_above(vm, counter, 100, 10) > 100);
    assert_int_equal(microvmi_pause(vm), MICROVMI_OK);
    uint64_t a = read_u64(vm, counter);
    usleep(50000);
    assert_int_equal(read_u64(vm, counter), a);
    assert_int_equal(microvmi_resume(vm), MICROVMI_OK);
    assert_true(wait_above(vm, counter, a, 10) > a);

    /* One vCPU paused: its own counter stops, the other's goes on. */
    assert_int_equal(microvmi_pause_vcpu(vm, 1), MICROVMI_OK);
    uint64_t one = read_u64(vm, percpu + 8), zero = read_u64(vm, percpu);
    assert_true(wait_above(vm, percpu, zero + 100, 10) > zero + 100);
    assert_int_equal(read_u64(vm, percpu + 8), one);
    struct microvmi_x86_regs r;
    assert_int_equal(microvmi_read_registers(vm, 1, &r), MICROVMI_OK);
    assert_int_equal(microvmi_read_registers(vm, 0, &r), MICROVMI_BAD_STATE);
    assert_int_equal(microvmi_resume_vcpu(vm, 1), MICROVMI_OK);
    assert_true(wait_above(vm, percpu + 8, one, 10) > one);
    assert_int_equal(microvmi_pause_vcpu(vm, 7), MICROVMI_INVALID_ARG);
    microvmi_destroy(vm);
}

static void registers(void **state)
{
    (void)state;
    microvmi_t *vm = open_guest(NULL);
    assert_non_null(vm);
    assert_true(wait_above(vm, sym("guest_counter"), 100, 10) > 100);
    struct microvmi_x86_regs r;
    assert_int_equal(microvmi_read_registers(vm, 0, &r), MICROVMI_BAD_STATE);
    assert_int_equal(microvmi_pause(vm), MICROVMI_OK);
    uint64_t cr3_a = read_u64(vm, sym("guest_cr3_a")), cr3_b = read_u64(vm, sym("guest_cr3_b"));
    for (uint32_t i = 0; i < 2; i++) {
        assert_int_equal(microvmi_read_registers(vm, i, &r), MICROVMI_OK);
        assert_true(r.rip >= 0x200000 && r.rip < sym("guest_code_end"));
        assert_true(r.cr3 == cr3_a || r.cr3 == cr3_b);
        assert_int_equal(r.cr0, 0x80050033);
        assert_true(r.efer & 0x400); /* LMA */
        assert_int_equal(r.cs.selector, 0x08);
        assert_true(r.cs.attributes & (1u << 9)); /* L: 64-bit code */
        assert_int_equal(r.idtr.limit, 256 * 16 - 1);
        assert_true(r.gdtr.base != 0x800); /* the guest's own GDT */
        assert_int_equal(r.tr.selector, 0x18); /* each vCPU has its own GDT */
        assert_true(r.present & MICROVMI_REGS_FPU);
    }
    /* Writes land and read back; put everything back afterwards. */
    assert_int_equal(microvmi_read_registers(vm, 0, &r), MICROVMI_OK);
    struct microvmi_x86_regs w = r;
    w.dr0 = 0x1234000;
    w.xcr0 = 3;
    w.sysenter_eip = 0xabcdef;
    assert_int_equal(microvmi_write_registers(vm, 0, &w), MICROVMI_OK);
    struct microvmi_x86_regs back;
    assert_int_equal(microvmi_read_registers(vm, 0, &back), MICROVMI_OK);
    assert_int_equal(back.dr0, 0x1234000);
    assert_int_equal(back.xcr0, 3);
    assert_int_equal(back.sysenter_eip, 0xabcdef);
    assert_int_equal(back.rip, r.rip);
    assert_int_equal(microvmi_write_registers(vm, 0, &r), MICROVMI_OK);
    assert_int_equal(microvmi_resume(vm), MICROVMI_OK);
    uint64_t c = read_u64(vm, sym("guest_counter"));
    assert_true(wait_above(vm, sym("guest_counter"), c + 100, 10) > c + 100);
    microvmi_destroy(vm);
}

static void memory(void **state)
{
    (void)state;
    microvmi_t *vm = open_guest(NULL);
    assert_non_null(vm);
    uint64_t buffer = sym("guest_buffer");
    assert_true(wait_above(vm, sym("guest_counter"), 10, 10) > 10);
    /* Offset 0x800 of guest_buffer is never written by the guest. */
    const char msg[] = "written by the emu test";
    assert_int_equal(microvmi_write_physical(vm, buffer + 0x800, msg, sizeof msg, NULL),
                     MICROVMI_OK);
    char back[sizeof msg] = {0};
    assert_int_equal(microvmi_read_physical(vm, buffer + 0x800, back, sizeof back, NULL),
                     MICROVMI_OK);
    assert_memory_equal(back, msg, sizeof msg);
    /* Virtual: through the vCPU's own page tables (identity-mapped). */
    assert_int_equal(microvmi_pause(vm), MICROVMI_OK);
    struct microvmi_address_space as;
    assert_int_equal(microvmi_vcpu_address_space(vm, 0, &as), MICROVMI_OK);
    assert_int_equal(as.mode, MICROVMI_PAGING_4LEVEL);
    memset(back, 0, sizeof back);
    assert_int_equal(microvmi_read_virtual(vm, &as, buffer + 0x800, back, sizeof back, NULL),
                     MICROVMI_OK);
    assert_memory_equal(back, msg, sizeof msg);
    /* Foreign mapping: the same bytes through a host pointer. */
    void *host = NULL;
    assert_int_equal(microvmi_map_physical(vm, buffer, 4096, true, &host), MICROVMI_OK);
    assert_memory_equal((char *)host + 0x800, msg, sizeof msg);
    assert_int_equal(microvmi_unmap_physical(vm, host, 4096), MICROVMI_OK);
    /* Beyond RAM. */
    uint64_t x;
    assert_int_equal(microvmi_read_physical(vm, 64ull << 20, &x, 8, NULL),
                     MICROVMI_NO_MEMORY_AT_ADDRESS);
    assert_int_equal(microvmi_resume(vm), MICROVMI_OK);
    microvmi_destroy(vm);
}

static void bad_params(void **state)
{
    (void)state;
    microvmi_t *vm = NULL;
    char *err = NULL;
    const char *zero[] = {"vcpus=0", NULL};
    assert_int_equal(microvmi_init("emu", zero, &vm, &err), MICROVMI_INVALID_ARG);
    assert_null(vm);
    assert_non_null(err);
    free(err);
    err = NULL;
    const char *missing[] = {"kernel=/nonexistent/kernel.elf", NULL};
    assert_int_equal(microvmi_init("emu", missing, &vm, &err), MICROVMI_INIT_FAILED);
    assert_non_null(strstr(err, "/nonexistent/kernel.elf"));
    free(err);
    err = NULL;
    char self[600];
    snprintf(self, sizeof self, "kernel=%s", "/proc/self/exe");
    const char *notguest[] = {self, NULL};
    assert_int_not_equal(microvmi_init("emu", notguest, &vm, &err), MICROVMI_OK);
    assert_null(vm);
    free(err);
}

int main(void)
{
    require_guest();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(boots_and_runs), cmocka_unit_test(pause_resume),
        cmocka_unit_test(registers),      cmocka_unit_test(memory),
        cmocka_unit_test(bad_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
