/* What a debugger stub relies on: single-step (exactly one instruction,
 * checked with capstone), planted int3, debug-register breakpoints, watch-
 * style EMULATE|TOGGLE_SINGLESTEP, injection, event fd, interrupt, the CLI. */
#include <capstone/capstone.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "emu_test.h"

#define WAIT 20.0

static int vm_close(void **state)
{
    microvmi_destroy(*state);
    return 0;
}

static microvmi_t *vm_open(void **state)
{
    microvmi_t *vm = open_guest(NULL);
    assert_non_null(vm);
    *state = vm;
    assert_true(wait_above(vm, sym("guest_counter"), 2, WAIT) > 2);
    return vm;
}

/* Each SINGLESTEP event is one instruction after the previous one. */
static void singlestep_one_instruction(void **state)
{
    microvmi_t *vm = vm_open(state);
    csh cs;
    assert_int_equal(cs_open(CS_ARCH_X86, CS_MODE_64, &cs), CS_ERR_OK);
    cs_option(cs, CS_OPT_DETAIL, CS_OPT_ON);
    assert_int_equal(microvmi_pause(vm), MICROVMI_OK);
    struct microvmi_intercept ss = {.kind = MICROVMI_EVENT_SINGLESTEP};
    assert_int_equal(microvmi_toggle_intercept(vm, 0, &ss, true), MICROVMI_OK);
    struct microvmi_x86_regs r;
    assert_int_equal(microvmi_read_registers(vm, 0, &r), MICROVMI_OK);
    uint64_t prev = r.rip;
    assert_int_equal(microvmi_resume(vm), MICROVMI_OK);
    int checked = 0;
    for (int i = 0; i < 200; i++) {
        struct microvmi_event ev;
        assert_true(wait_event(vm, MICROVMI_EVENT_SINGLESTEP, &ev, WAIT));
        assert_int_equal(ev.vcpu, 0);
        uint8_t code[16];
        assert_int_equal(microvmi_read_physical(vm, prev, code, sizeof code, NULL), MICROVMI_OK);
        cs_insn *in = NULL;
        assert_int_equal(cs_disasm(cs, code, sizeof code, prev, 1, &in), 1);
        bool flow = false;
        for (uint8_t g = 0; g < in->detail->groups_count; g++) {
            uint8_t grp = in->detail->groups[g];
            flow |= grp == CS_GRP_JUMP || grp == CS_GRP_CALL || grp == CS_GRP_RET ||
                    grp == CS_GRP_INT || grp == CS_GRP_IRET;
        }
        /* The #PF probe faults: its step ends at the handler. */
        if (!flow && in->id != X86_INS_VMCALL && in->id != X86_INS_XSETBV &&
            prev != sym("guest_pf_probe")) {
            assert_int_equal(ev.rip, prev + in->size);
            checked++;
        }
        cs_free(in, 1);
        prev = ev.rip;
        assert_int_equal(ev.u.singlestep.gpa, ev.rip);
        uint32_t flags = i == 199 ? MICROVMI_RESPONSE_TOGGLE_SINGLESTEP : MICROVMI_RESPONSE_CONTINUE;
        assert_int_equal(reply_flags(vm, &ev, flags), MICROVMI_OK);
    }
    assert_true(checked > 100);
    cs_close(&cs);
    uint64_t c = read_u64(vm, sym("guest_percpu_counter"));
    assert_true(wait_above(vm, sym("guest_percpu_counter"), c + 100, WAIT) > c + 100);
}

/* A debugger's own 0xCC: the event is at it; once the byte is restored, a
 * CONTINUE runs the original instruction. */
static void planted_breakpoint(void **state)
{
    microvmi_t *vm = vm_open(state);
    uint64_t tick = sym("guest_tick");
    assert_int_equal(intercept(vm, MICROVMI_EVENT_INT3, MICROVMI_ANY, true), MICROVMI_OK);
    assert_int_equal(microvmi_pause(vm), MICROVMI_OK);
    uint8_t orig, cc = 0xcc;
    assert_int_equal(microvmi_read_physical(vm, tick, &orig, 1, NULL), MICROVMI_OK);
    assert_int_equal(microvmi_write_physical(vm, tick, &cc, 1, NULL), MICROVMI_OK);
    assert_int_equal(microvmi_resume(vm), MICROVMI_OK);
    struct microvmi_event ev;
    do {
        assert_true(wait_event(vm, MICROVMI_EVENT_INT3, &ev, WAIT));
        if (ev.rip != tick)
            reply_flags(vm, &ev, MICROVMI_RESPONSE_REINJECT);
    } while (ev.rip != tick);
    assert_int_equal(ev.u.int3.gpa, tick);
    assert_int_equal(ev.u.int3.insn_len, 1);
    struct microvmi_x86_regs r;
    assert_int_equal(microvmi_read_registers(vm, ev.vcpu, &r), MICROVMI_OK);
    assert_int_equal(r.rip, tick);
    assert_int_equal(microvmi_pause(vm), MICROVMI_OK);
    assert_int_equal(microvmi_write_physical(vm, tick, &orig, 1, NULL), MICROVMI_OK);
    assert_int_equal(reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE), MICROVMI_OK);
    /* The other vCPU may have hit it too meanwhile: let it go as well. */
    struct microvmi_event other;
    while (microvmi_listen(vm, 0, &other) == MICROVMI_OK)
        reply_flags(vm, &other, other.rip == tick ? MICROVMI_RESPONSE_CONTINUE
                                                  : MICROVMI_RESPONSE_REINJECT);
    assert_int_equal(intercept(vm, MICROVMI_EVENT_INT3, MICROVMI_ANY, false), MICROVMI_OK);
    assert_int_equal(microvmi_resume(vm), MICROVMI_OK);
    uint64_t c = read_u64(vm, sym("guest_counter"));
    assert_true(wait_above(vm, sym("guest_counter"), c + 1000, WAIT) > c + 1000);
    uint64_t panics = read_u64(vm, sym("guest_exception_count") + 3 * 8);
    uint64_t int3s = read_u64(vm, sym("guest_int3_count"));
    assert_int_equal(panics, int3s); /* every #BP the guest saw was its own */
}

/* DR0 = guest_tick, DR7 enables it: #DB before guest_tick runs; CONTINUE
 * resumes without firing again on the same instruction. */
static void debug_register_breakpoint(void **state)
{
    microvmi_t *vm = vm_open(state);
    uint64_t tick = sym("guest_tick"), percpu = sym("guest_percpu_counter");
    assert_int_equal(intercept(vm, MICROVMI_EVENT_EXCEPTION, 1, true), MICROVMI_OK);
    assert_int_equal(microvmi_pause(vm), MICROVMI_OK);
    struct microvmi_x86_regs r;
    assert_int_equal(microvmi_read_registers(vm, 0, &r), MICROVMI_OK);
    r.dr0 = tick;
    r.dr7 = r.dr7 | 1;
    r.present = MICROVMI_REGS_DEBUG;
    assert_int_equal(microvmi_write_registers(vm, 0, &r), MICROVMI_OK);
    assert_int_equal(microvmi_resume(vm), MICROVMI_OK);
    uint64_t last = 0;
    for (int i = 0; i < 3; i++) {
        struct microvmi_event ev;
        assert_true(wait_event(vm, MICROVMI_EVENT_EXCEPTION, &ev, WAIT));
        assert_int_equal(ev.vcpu, 0);
        assert_int_equal(ev.u.exception.vector, 1);
        assert_int_equal(ev.rip, tick);
        struct microvmi_x86_regs d;
        assert_int_equal(microvmi_read_registers(vm, 0, &d), MICROVMI_OK);
        assert_true(d.dr6 & 1);
        uint64_t mine = read_u64(vm, percpu);
        if (i)
            assert_int_equal(mine, last + 1); /* one tick per hit: no re-trigger */
        last = mine;
        assert_int_equal(reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE), MICROVMI_OK);
    }
    assert_int_equal(microvmi_pause(vm), MICROVMI_OK);
    assert_int_equal(microvmi_read_registers(vm, 0, &r), MICROVMI_OK);
    r.dr7 &= ~1ull;
    r.present = MICROVMI_REGS_DEBUG;
    assert_int_equal(microvmi_write_registers(vm, 0, &r), MICROVMI_OK);
    assert_int_equal(intercept(vm, MICROVMI_EVENT_EXCEPTION, 1, false), MICROVMI_OK);
    struct microvmi_event ev;
    while (microvmi_listen(vm, 0, &ev) == MICROVMI_OK)
        reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE);
    assert_int_equal(microvmi_resume(vm), MICROVMI_OK);
    assert_true(wait_above(vm, percpu, last + 100, WAIT) > last + 100);
}

/* The stub's write watchpoint: the write lands, then a step event. */
static void watch_emulate_then_step(void **state)
{
    microvmi_t *vm = vm_open(state);
    uint64_t buf = sym("guest_buffer");
    assert_int_equal(microvmi_set_page_access(vm, 0, buf >> 12, MICROVMI_ACCESS_R | MICROVMI_ACCESS_X),
                     MICROVMI_OK);
    struct microvmi_event ev;
    assert_true(wait_event(vm, MICROVMI_EVENT_MEMORY, &ev, WAIT));
    uint64_t before = read_u64(vm, buf + 0x100);
    assert_int_equal(reply_flags(vm, &ev, MICROVMI_RESPONSE_EMULATE |
                                              MICROVMI_RESPONSE_TOGGLE_SINGLESTEP),
                     MICROVMI_OK);
    struct microvmi_event step;
    do {
        assert_true(wait_event(vm, MICROVMI_EVENT_SINGLESTEP, &step, WAIT));
    } while (step.vcpu != ev.vcpu);
    assert_true(step.rip > ev.rip && step.rip <= ev.rip + 15);
    assert_true(read_u64(vm, buf + 0x100) != before);
    assert_int_equal(microvmi_set_page_access(vm, 0, buf >> 12, MICROVMI_ACCESS_RWX), MICROVMI_OK);
    assert_int_equal(reply_flags(vm, &step, MICROVMI_RESPONSE_TOGGLE_SINGLESTEP), MICROVMI_OK);
    while (microvmi_listen(vm, 0, &ev) == MICROVMI_OK)
        reply_flags(vm, &ev, MICROVMI_RESPONSE_CONTINUE);
    uint64_t c = read_u64(vm, sym("guest_counter"));
    assert_true(wait_above(vm, sym("guest_counter"), c + 100, WAIT) > c + 100);
}

/* An injected exception goes through the guest's IDT: its handler counts. */
static void inject(void **state)
{
    microvmi_t *vm = vm_open(state);
    uint64_t count = sym("guest_exception_count") + 5 * 8;
    assert_int_equal(microvmi_inject_exception(vm, 1, 5, false, 0, 0), MICROVMI_BAD_STATE);
    assert_int_equal(microvmi_pause_vcpu(vm, 1), MICROVMI_OK);
    assert_int_equal(microvmi_inject_exception(vm, 1, 5, false, 0, 0), MICROVMI_OK);
    assert_int_equal(microvmi_inject_exception(vm, 1, 40, false, 0, 0), MICROVMI_INVALID_ARG);
    assert_int_equal(microvmi_resume_vcpu(vm, 1), MICROVMI_OK);
    /* #BR is unexpected for the guest: it counts it, then panics (halts). */
    assert_true(wait_above(vm, count, 0, WAIT) == 1);
}

static void *interrupter(void *arg)
{
    usleep(100000);
    microvmi_interrupt(arg);
    return NULL;
}

static void event_fd_and_interrupt(void **state)
{
    microvmi_t *vm = vm_open(state);
    int fd = microvmi_event_fd(vm);
    assert_true(fd >= 0);
    struct pollfd p = {.fd = fd, .events = POLLIN};
    assert_int_equal(poll(&p, 1, 0), 0);
    pthread_t t;
    pthread_create(&t, NULL, interrupter, vm);
    struct microvmi_event ev;
    assert_int_equal(microvmi_listen(vm, -1, &ev), MICROVMI_INTERRUPTED);
    pthread_join(t, NULL);
    assert_int_equal(intercept(vm, MICROVMI_EVENT_INT3, MICROVMI_ANY, true), MICROVMI_OK);
    assert_int_equal(poll(&p, 1, 20000), 1);
    assert_int_equal(microvmi_listen(vm, 0, &ev), MICROVMI_OK);
    assert_int_equal(ev.kind, MICROVMI_EVENT_INT3);
    reply_flags(vm, &ev, MICROVMI_RESPONSE_REINJECT);
    assert_int_equal(intercept(vm, MICROVMI_EVENT_INT3, MICROVMI_ANY, false), MICROVMI_OK);
    while (microvmi_listen(vm, 0, &ev) == MICROVMI_OK)
        reply_flags(vm, &ev, MICROVMI_RESPONSE_REINJECT);
    assert_int_equal(poll(&p, 1, 0), 0);
}

/* `microvmi --driver emu events --kind int3,cr3` prints JSON lines. */
static void cli_events(void **state)
{
    *state = NULL;
    if (access(MICROVMI_TEST_CLI, X_OK) != 0) {
        skip();
    }
    char cmd[1200];
    snprintf(cmd, sizeof cmd,
             "%s --driver emu --param kernel=%s events --kind int3,cr3 --count 6 2>&1",
             MICROVMI_TEST_CLI, guest_path());
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[512];
    int int3 = 0, cr3 = 0, lines = 0;
    while (fgets(line, sizeof line, p)) {
        lines++;
        assert_true(line[0] == '{');
        if (strstr(line, "\"kind\":\"int3\""))
            int3++;
        if (strstr(line, "\"kind\":\"cr\"") && strstr(line, "\"cr\":3"))
            cr3++;
    }
    assert_int_equal(pclose(p), 0);
    assert_int_equal(lines, 6);
    assert_int_equal(int3 + cr3, 6);
    assert_true(cr3 > 0);
}

int main(void)
{
    require_guest();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(singlestep_one_instruction, vm_close),
        cmocka_unit_test_teardown(planted_breakpoint, vm_close),
        cmocka_unit_test_teardown(debug_register_breakpoint, vm_close),
        cmocka_unit_test_teardown(watch_emulate_then_step, vm_close),
        cmocka_unit_test_teardown(inject, vm_close),
        cmocka_unit_test_teardown(event_fd_and_interrupt, vm_close),
        cmocka_unit_test_teardown(cli_events, vm_close),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
