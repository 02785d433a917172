/* Every event kind of the emu driver on the bundled guest, checked against
 * the guest's own symbols and behaviour (tests/guest/README.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "emu_test.h"

#define WAIT 20.0

static microvmi_t *vm_open(void **state)
{
    microvmi_t *vm = open_guest(NULL);
    assert_non_null(vm);
    *state = vm;
    assert_true(wait_above(vm, sym("guest_counter"), 2, WAIT) > 2);
    return vm;
}

static int vm_close(void **state)
{
    microvmi_destroy(*state);
    return 0;
}

static void int3_and_reinject(void **state)
{
    microvmi_t *vm = vm_open(state);
    uint64_t self = sym("guest_self_int3"), count = sym("guest_int3_count");
    assert_int_equal(intercept(vm, MICROVMI_EVENT_INT3, MICROVMI_ANY, true), MICROVMI_OK);
    bool seen[2] = {false, false};
    uint64_t before = read_u64(vm, count);
    for (int i = 0; i < 40 && !(seen[0] && seen[1]); i++) {
        struct microvmi_event ev;
        assert_true(wait_event(vm, MICROVMI_EVENT_INT3, &ev, WAIT));
        assert_int_equal(ev.u.int3.gpa, self);
        assert_int_equal(ev.u.int3.gva, self);
        assert_int_equal(ev.rip, self);
        assert_int_equal(ev.u.int3.insn_len, 1);
        assert_true(ev.vcpu < 2);
        seen[ev.vcpu] = true;
        assert_int_equal(reply_flags(vm, &ev, MICROVMI_RESPONSE_REINJECT), MICROVMI_OK);
        /* A reply is accepted once. */
        assert_int_equal(reply_flags(vm, &ev, MICROVMI_RESPONSE_REINJECT), MICROVMI_INVALID_ARG);
    }
    assert_true(seen[0] && seen[1]);
    assert_true(wait_above(vm, count, before, WAIT) > before);
    assert_int_equal(intercept(vm, MICROVMI_EVENT_INT3, MICROVMI_ANY, false), MICROVMI_OK);
}

static void cr3_writes(void **state)
{
    microvmi_t *vm = vm_open(state);
    uint64_t a = read_u64(vm, sym("guest_cr3_a")), b = read_u64(vm, sym("guest_cr3_b"));
    assert_int_equal(intercept(vm, MICROVMI_EVENT_CR, 3, true), MICROVMI_OK);
    for (int i = 0; i < 10; i++) {
        struct microvmi_event ev;
        assert_true(wait_event(vm, MICROVMI_EVENT_CR, &ev, WAIT));
        assert_int_equal(ev.u.cr.index, 3);
        assert_true(ev.u.cr.new_value == a || ev.u.cr.new_value == b);
        assert_int_equal(ev.cr3, ev.u.cr.old_value);
        assert_int_equal(reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE), MICROVMI_OK);
    }
    assert_int_equal(intercept(vm, MICROVMI_EVENT_CR, 3, false), MICROVMI_OK);
    /* CR0 at guest_cr_probe rewrites its own value. */
    assert_int_equal(intercept(vm, MICROVMI_EVENT_CR, 0, true), MICROVMI_OK);
    struct microvmi_event ev;
    do { /* a CR3 event queued before the toggle still comes first */
        assert_true(wait_event(vm, MICROVMI_EVENT_CR, &ev, WAIT));
        if (ev.u.cr.index != 0)
            reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE);
    } while (ev.u.cr.index != 0);
    assert_int_equal(ev.rip, sym("guest_cr_probe"));
    assert_int_equal(ev.u.cr.index, 0);
    assert_int_equal(ev.u.cr.old_value, 0x80050033);
    assert_int_equal(ev.u.cr.new_value, 0x80050033);
    assert_int_equal(reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE), MICROVMI_OK);
    assert_int_equal(intercept(vm, MICROVMI_EVENT_CR, 0, false), MICROVMI_OK);
}

static void msr_write_and_read(void **state)
{
    microvmi_t *vm = vm_open(state);
    assert_int_equal(intercept(vm, MICROVMI_EVENT_MSR, 0xC0000102u, true), MICROVMI_OK);
    struct microvmi_event w, r;
    assert_true(wait_event(vm, MICROVMI_EVENT_MSR, &w, WAIT));
    assert_true(w.u.msr.write);
    assert_int_equal(w.rip, sym("guest_msr_probe"));
    assert_int_equal(w.u.msr.index, 0xC0000102u);
    assert_int_equal(reply_flags(vm, &w, MICROVMI_RESPONSE_CONTINUE), MICROVMI_OK);
    /* The same vCPU reads it back right after: the value it wrote. */
    do {
        assert_true(wait_event(vm, MICROVMI_EVENT_MSR, &r, WAIT));
        if (r.vcpu != w.vcpu)
            assert_int_equal(reply_flags(vm, &r, MICROVMI_RESPONSE_CONTINUE), MICROVMI_OK);
    } while (r.vcpu != w.vcpu);
    assert_false(r.u.msr.write);
    assert_int_equal(r.rip, sym("guest_msr_read_probe"));
    assert_int_equal(r.u.msr.value, w.u.msr.value);
    assert_int_equal(reply_flags(vm, &r, MICROVMI_RESPONSE_CONTINUE), MICROVMI_OK);
    assert_int_equal(intercept(vm, MICROVMI_EVENT_MSR, 0xC0000102u, false), MICROVMI_OK);
    uint64_t last = sym("guest_msr_last");
    double end = now_s() + WAIT;
    while (read_u64(vm, last) != w.u.msr.value && now_s() < end)
        usleep(1000);
    /* The guest may have moved on to a later tick's value by now. */
    assert_true(read_u64(vm, last) >= w.u.msr.value);
}

static void cpuid_reply(void **state)
{
    microvmi_t *vm = vm_open(state);
    assert_int_equal(intercept(vm, MICROVMI_EVENT_CPUID, MICROVMI_ANY, true), MICROVMI_OK);
    uint64_t last = sym("guest_cpuid_last");
    struct microvmi_event ev;
    do {
        assert_true(wait_event(vm, MICROVMI_EVENT_CPUID, &ev, WAIT));
        if (ev.rip != sym("guest_cpuid_probe"))
            assert_int_equal(reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE), MICROVMI_OK);
    } while (ev.rip != sym("guest_cpuid_probe"));
    assert_int_equal(ev.u.cpuid.leaf, 0);
    assert_int_equal(ev.u.cpuid.subleaf, 0);
    assert_int_equal(ev.u.cpuid.insn_len, 2);
    struct microvmi_reply r = {.flags = MICROVMI_RESPONSE_SET_CPUID,
                               .cpuid = {0x5eedf00d, 1, 2, 3}};
    assert_int_equal(microvmi_reply(vm, &ev, &r), MICROVMI_OK);
    /* Both vCPUs store into guest_cpuid_last: answer every probe the same
     * way until the guest shows the reply. */
    double end = now_s() + WAIT;
    uint32_t eax = 0;
    while (now_s() < end) {
        microvmi_read_physical(vm, last, &eax, 4, NULL);
        if (eax == 0x5eedf00d)
            break;
        if (microvmi_listen(vm, 1, &ev) == MICROVMI_OK) {
            if (ev.kind == MICROVMI_EVENT_CPUID && ev.rip == sym("guest_cpuid_probe"))
                assert_int_equal(microvmi_reply(vm, &ev, &r), MICROVMI_OK);
            else
                reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE);
        }
    }
    assert_int_equal(eax, 0x5eedf00d);
}

/* A write the view forbids: DENY leaves the old value, EMULATE lands it. */
static void memory_deny_and_emulate(void **state)
{
    microvmi_t *vm = vm_open(state);
    uint64_t buf = sym("guest_buffer"), gfn = buf >> 12;
    assert_int_equal(microvmi_pause(vm), MICROVMI_OK);
    uint64_t old = read_u64(vm, buf + 0x100);
    assert_int_equal(microvmi_set_page_access(vm, 0, gfn, MICROVMI_ACCESS_R | MICROVMI_ACCESS_X),
                     MICROVMI_OK);
    enum microvmi_access got;
    assert_int_equal(microvmi_get_page_access(vm, 0, gfn, &got), MICROVMI_OK);
    assert_int_equal(got, MICROVMI_ACCESS_R | MICROVMI_ACCESS_X);
    assert_int_equal(microvmi_resume(vm), MICROVMI_OK);
    for (int i = 0; i < 6; i++) {
        struct microvmi_event ev;
        assert_true(wait_event(vm, MICROVMI_EVENT_MEMORY, &ev, WAIT));
        assert_int_equal(ev.u.memory.gpa >> 12, gfn);
        assert_int_equal(ev.u.memory.gpa, buf + 0x100);
        assert_int_equal(ev.u.memory.access, MICROVMI_ACCESS_W);
        assert_int_equal(ev.u.memory.size, 8);
        assert_true(ev.rip >= sym("guest_tick") && ev.rip < sym("guest_code_end"));
        assert_int_equal(reply_flags(vm, &ev, MICROVMI_RESPONSE_DENY), MICROVMI_OK);
    }
    assert_int_equal(read_u64(vm, buf + 0x100), old);
    struct microvmi_event ev;
    assert_true(wait_event(vm, MICROVMI_EVENT_MEMORY, &ev, WAIT));
    uint32_t emulated = ev.vcpu;
    assert_int_equal(reply_flags(vm, &ev, MICROVMI_RESPONSE_EMULATE), MICROVMI_OK);
    do { /* still forbidden: that vCPU's next tick faults again */
        assert_true(wait_event(vm, MICROVMI_EVENT_MEMORY, &ev, WAIT));
        if (ev.vcpu != emulated)
            reply_flags(vm, &ev, MICROVMI_RESPONSE_DENY);
    } while (ev.vcpu != emulated);
    assert_true(read_u64(vm, buf + 0x100) != old);
    assert_int_equal(microvmi_set_page_access(vm, 0, gfn, MICROVMI_ACCESS_RWX), MICROVMI_OK);
    assert_int_equal(reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE), MICROVMI_OK);
    uint64_t now = read_u64(vm, buf + 0x100);
    assert_true(wait_above(vm, buf + 0x100, now, WAIT) > now);
}

/* An unreadable page: the guest's `lock xadd` on guest_counter reports its
 * read; plain stores to the same page (guest_percpu_counter) still land. */
static void read_event_on_atomic(void **state)
{
    microvmi_t *vm = vm_open(state);
    uint64_t counter = sym("guest_counter"), percpu = sym("guest_percpu_counter");
    assert_int_equal(counter >> 12, percpu >> 12);
    assert_int_equal(microvmi_set_page_access(vm, 0, counter >> 12,
                                              MICROVMI_ACCESS_W | MICROVMI_ACCESS_X),
                     MICROVMI_OK);
    struct microvmi_event ev;
    do {
        assert_true(wait_event(vm, MICROVMI_EVENT_MEMORY, &ev, WAIT));
        if (ev.u.memory.gpa != counter)
            reply_flags(vm, &ev, MICROVMI_RESPONSE_EMULATE);
    } while (ev.u.memory.gpa != counter);
    assert_int_equal(ev.u.memory.access, MICROVMI_ACCESS_R);
    assert_int_equal(ev.u.memory.size, 8);
    assert_true(ev.rip >= sym("guest_tick") && ev.rip < sym("guest_tick") + 0x40);
    assert_int_equal(microvmi_set_page_access(vm, 0, counter >> 12, MICROVMI_ACCESS_RWX),
                     MICROVMI_OK);
    assert_int_equal(reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE), MICROVMI_OK);
    uint64_t c = read_u64(vm, counter);
    assert_true(wait_above(vm, counter, c + 100, WAIT) > c + 100);
}

static void execute_event(void **state)
{
    microvmi_t *vm = vm_open(state);
    uint64_t tick = sym("guest_tick");
    assert_int_equal(microvmi_set_page_access(vm, 0, tick >> 12, MICROVMI_ACCESS_RW),
                     MICROVMI_OK);
    struct microvmi_event ev;
    assert_true(wait_event(vm, MICROVMI_EVENT_MEMORY, &ev, WAIT));
    assert_int_equal(ev.u.memory.access, MICROVMI_ACCESS_X);
    assert_int_equal(ev.u.memory.gpa >> 12, tick >> 12);
    assert_int_equal(ev.rip >> 12, tick >> 12);
    assert_int_equal(reply_flags(vm, &ev, MICROVMI_RESPONSE_EMULATE), MICROVMI_OK);
    assert_true(wait_event(vm, MICROVMI_EVENT_MEMORY, &ev, WAIT));
    assert_int_equal(ev.u.memory.access, MICROVMI_ACCESS_X);
    assert_int_equal(microvmi_set_page_access(vm, 0, tick >> 12, MICROVMI_ACCESS_RWX),
                     MICROVMI_OK);
    assert_int_equal(reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE), MICROVMI_OK);
    uint64_t c = read_u64(vm, sym("guest_counter"));
    assert_true(wait_above(vm, sym("guest_counter"), c + 10, WAIT) > c + 10);
}

static void views_change_gfn(void **state)
{
    microvmi_t *vm = vm_open(state);
    uint64_t buf = sym("guest_buffer"), spare = 48ull << 20; /* unused RAM */
    uint16_t view = 0;
    assert_int_equal(microvmi_view_create(vm, &view), MICROVMI_OK);
    assert_true(view != 0);
    assert_int_equal(microvmi_view_change_gfn(vm, view, buf >> 12, spare >> 12), MICROVMI_OK);
    assert_int_equal(microvmi_view_switch(vm, 0, view), MICROVMI_OK);
    /* vCPU 0 now writes its ticks into the spare frame, vCPU 1 still into
     * the real buffer (offset 0x1000 + 8n is vCPU n's own slot). */
    assert_true(wait_above(vm, spare + 0x100, 0, WAIT) > 0);
    uint64_t real = read_u64(vm, buf + 0x100);
    assert_true(wait_above(vm, buf + 0x100, real, WAIT) > real); /* vCPU 1 */
    assert_int_equal(microvmi_view_switch(vm, 0, 0), MICROVMI_OK);
    assert_int_equal(microvmi_view_destroy(vm, view), MICROVMI_OK);
    assert_int_equal(microvmi_view_switch(vm, 0, view), MICROVMI_INVALID_ARG);
    uint64_t frozen = read_u64(vm, spare + 0x100);
    uint64_t c = read_u64(vm, sym("guest_counter"));
    assert_true(wait_above(vm, sym("guest_counter"), c + 100, WAIT) > c + 100);
    assert_int_equal(read_u64(vm, spare + 0x100), frozen);
}

static void pf_exception(void **state)
{
    microvmi_t *vm = vm_open(state);
    uint64_t count = sym("guest_exception_count") + 14 * 8;
    assert_int_equal(intercept(vm, MICROVMI_EVENT_EXCEPTION, 14, true), MICROVMI_OK);
    struct microvmi_event ev;
    assert_true(wait_event(vm, MICROVMI_EVENT_EXCEPTION, &ev, WAIT));
    assert_int_equal(ev.u.exception.vector, 14);
    assert_int_equal(ev.rip, sym("guest_pf_probe"));
    assert_true(ev.u.exception.has_error_code);
    assert_int_equal(ev.u.exception.error_code, 0);
    assert_int_equal(ev.u.exception.cr2, sym("guest_as_probe_page"));
    assert_false(ev.u.exception.software);
    uint64_t before = read_u64(vm, count);
    assert_int_equal(reply_flags(vm, &ev, MICROVMI_RESPONSE_REINJECT), MICROVMI_OK);
    assert_int_equal(intercept(vm, MICROVMI_EVENT_EXCEPTION, 14, false), MICROVMI_OK);
    assert_true(wait_above(vm, count, before, WAIT) > before);
}

static void probes(void **state)
{
    microvmi_t *vm = vm_open(state);
    struct microvmi_event ev;
    assert_int_equal(intercept(vm, MICROVMI_EVENT_DESCRIPTOR, MICROVMI_ANY, true), MICROVMI_OK);
    do {
        assert_true(wait_event(vm, MICROVMI_EVENT_DESCRIPTOR, &ev, WAIT));
        if (ev.rip != sym("guest_desc_probe"))
            reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE);
    } while (ev.rip != sym("guest_desc_probe"));
    assert_int_equal(ev.u.descriptor.which, MICROVMI_DESC_GDTR);
    assert_true(ev.u.descriptor.write);
    reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE);
    assert_int_equal(intercept(vm, MICROVMI_EVENT_DESCRIPTOR, MICROVMI_ANY, false), MICROVMI_OK);

    assert_int_equal(intercept(vm, MICROVMI_EVENT_HYPERCALL, MICROVMI_ANY, true), MICROVMI_OK);
    assert_true(wait_event(vm, MICROVMI_EVENT_HYPERCALL, &ev, WAIT));
    assert_int_equal(ev.rip, sym("guest_hypercall_probe"));
    assert_int_equal(ev.u.hypercall.insn_len, 3);
    reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE);
    assert_int_equal(intercept(vm, MICROVMI_EVENT_HYPERCALL, MICROVMI_ANY, false), MICROVMI_OK);

    assert_int_equal(intercept(vm, MICROVMI_EVENT_XCR, MICROVMI_ANY, true), MICROVMI_OK);
    assert_true(wait_event(vm, MICROVMI_EVENT_XCR, &ev, WAIT));
    assert_int_equal(ev.rip, sym("guest_xcr_probe"));
    assert_int_equal(ev.u.xcr.index, 0);
    assert_int_equal(ev.u.xcr.new_value, 3);
    reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE);
    assert_int_equal(intercept(vm, MICROVMI_EVENT_XCR, MICROVMI_ANY, false), MICROVMI_OK);

    assert_int_equal(intercept(vm, MICROVMI_EVENT_DR, 7, true), MICROVMI_OK);
    assert_true(wait_event(vm, MICROVMI_EVENT_DR, &ev, WAIT));
    assert_int_equal(ev.rip, sym("guest_dr_probe"));
    assert_int_equal(ev.u.dr.index, 7);
    assert_false(ev.u.dr.write);
    uint32_t reader = ev.vcpu;
    reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE);
    do {
        assert_true(wait_event(vm, MICROVMI_EVENT_DR, &ev, WAIT));
        if (ev.vcpu != reader)
            reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE);
    } while (ev.vcpu != reader);
    assert_true(ev.u.dr.write);
    assert_int_equal(ev.rip, sym("guest_dr_probe") + 3);
    assert_int_equal(ev.u.dr.value, 0x400);
    reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE);
    assert_int_equal(intercept(vm, MICROVMI_EVENT_DR, 7, false), MICROVMI_OK);

    /* int $0x81: a software interrupt of 2 bytes. */
    assert_int_equal(intercept(vm, MICROVMI_EVENT_EXCEPTION, 0x81, true), MICROVMI_OK);
    assert_true(wait_event(vm, MICROVMI_EVENT_EXCEPTION, &ev, WAIT));
    assert_int_equal(ev.rip, sym("guest_int_probe"));
    assert_int_equal(ev.u.exception.vector, 0x81);
    assert_true(ev.u.exception.software);
    assert_int_equal(ev.u.exception.insn_len, 2);
    uint64_t soft = sym("guest_softint_count"), before = read_u64(vm, soft);
    reply_flags(vm, &ev, MICROVMI_RESPONSE_REINJECT);
    assert_int_equal(intercept(vm, MICROVMI_EVENT_EXCEPTION, 0x81, false), MICROVMI_OK);
    assert_true(wait_above(vm, soft, before, WAIT) > before);
}

static void denied_cr_write(void **state)
{
    microvmi_t *vm = vm_open(state);
    uint64_t a = read_u64(vm, sym("guest_cr3_a"));
    assert_int_equal(intercept(vm, MICROVMI_EVENT_CR, 3, true), MICROVMI_OK);
    struct microvmi_event ev;
    do {
        assert_true(wait_event(vm, MICROVMI_EVENT_CR, &ev, WAIT));
        if (ev.u.cr.new_value == a)
            break;
        reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE);
    } while (1);
    uint64_t old = ev.u.cr.old_value;
    assert_int_equal(reply_flags(vm, &ev, MICROVMI_RESPONSE_DENY), MICROVMI_OK);
    /* The next CR3 event of that vCPU starts from the value the denied
     * write did not replace. */
    struct microvmi_event next;
    do {
        assert_true(wait_event(vm, MICROVMI_EVENT_CR, &next, WAIT));
        if (next.vcpu != ev.vcpu)
            reply_flags(vm, &next, MICROVMI_RESPONSE_CONTINUE);
    } while (next.vcpu != ev.vcpu);
    assert_int_equal(next.u.cr.old_value, old);
    reply_flags(vm, &next, MICROVMI_RESPONSE_CONTINUE);
    assert_int_equal(intercept(vm, MICROVMI_EVENT_CR, 3, false), MICROVMI_OK);
}

int main(void)
{
    require_guest();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(int3_and_reinject, vm_close),
        cmocka_unit_test_teardown(cr3_writes, vm_close),
        cmocka_unit_test_teardown(msr_write_and_read, vm_close),
        cmocka_unit_test_teardown(cpuid_reply, vm_close),
        cmocka_unit_test_teardown(memory_deny_and_emulate, vm_close),
        cmocka_unit_test_teardown(read_event_on_atomic, vm_close),
        cmocka_unit_test_teardown(execute_event, vm_close),
        cmocka_unit_test_teardown(views_change_gfn, vm_close),
        cmocka_unit_test_teardown(pf_exception, vm_close),
        cmocka_unit_test_teardown(probes, vm_close),
        cmocka_unit_test_teardown(denied_cr_write, vm_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
