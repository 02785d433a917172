/* The loop body every vCPU runs forever: one tick = counters, buffer writes,
 * an address-space switch, and now and then the guest's own int3 and the
 * event probes (README.md "The loop"). */
#include "guest.h"

volatile uint64_t guest_counter;
volatile uint64_t guest_percpu_counter[GUEST_MAX_CPUS];
volatile uint8_t guest_buffer[GUEST_BUFFER_SIZE] __attribute__((aligned(GUEST_PAGE_SIZE)));
volatile uint32_t guest_cpuid_last[4];
volatile uint64_t guest_msr_last;

#define SELF_INT3_PERIOD 16
#define PROBE_PERIOD 64
/* Probes run on odd ticks, i.e. in address space B, where the #PF probe
 * faults; tick 1 is one of them so every event shows up right away. */
#define PROBE_PHASE 1
#define SERIAL_TICK_PERIOD 1024

static void run_probes(uint64_t cpu, uint64_t tick) {
  guest_run_cpuid_probe(guest_cpuid_last);
  guest_msr_last = guest_run_msr_probe((GUEST_MSR_PROBE_BASE + tick) & GUEST_MSR_PROBE_MASK);
  guest_run_cr_probe();
  guest_run_dr_probe();
  guest_run_xcr_probe();
  guest_run_desc_probe(guest_gdtr(cpu), guest_idtr());
  guest_run_hypercall_probe();
  guest_run_pf_probe();
  guest_run_int_probe();
}

GUEST_NOINLINE void guest_tick(uint64_t cpu) {
  uint64_t tick = __atomic_add_fetch(&guest_counter, 1, __ATOMIC_SEQ_CST);
  uint64_t mine = guest_percpu_counter[cpu] + 1;
  guest_percpu_counter[cpu] = mine;

  *(volatile uint64_t *)&guest_buffer[GUEST_BUFFER_TICK_OFFSET] = tick;
  *(volatile uint64_t *)&guest_buffer[GUEST_BUFFER_PERCPU_OFFSET + 8 * cpu] = tick;

  guest_write_cr3(tick & 1 ? guest_cr3_b : guest_cr3_a);

  if (tick % SELF_INT3_PERIOD == 0) guest_run_self_int3();
  if (tick % PROBE_PERIOD == PROBE_PHASE) run_probes(cpu, tick);

  if (cpu == 0 && mine % SERIAL_TICK_PERIOD == 0) {
    guest_serial_puts("tick ");
    guest_serial_put_dec(mine);
    guest_serial_puts("\n");
  }
}
