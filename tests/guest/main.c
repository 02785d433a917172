/* From the 64-bit entry to the loop: vCPU 0 builds the shared tables (page
 * tables, IDT) while the others wait; then each vCPU loads its own GDT, TSS
 * and the IDT, switches to address space A and ticks forever. */
#include "guest.h"

#define CPUID1_ECX_XSAVE (1u << 26)
#define CR4_OSXSAVE (1ull << 18)

static volatile uint32_t shared_tables_ready;

/* xsetbv needs CR4.OSXSAVE, which needs CPUID XSAVE; elsewhere the xcr probe's
 * #UD is expected and skipped. */
static void enable_xsave_if_present(void) {
  uint32_t r[4];
  guest_cpuid(1, 0, r);
  if (r[2] & CPUID1_ECX_XSAVE) guest_write_cr4(guest_read_cr4() | CR4_OSXSAVE);
}

void guest_main(uint64_t cpu, uint64_t ncpus) {
  (void)ncpus;
  if (cpu == 0) {
    guest_serial_init();
    guest_paging_build();
    guest_idt_build();
    __atomic_store_n(&shared_tables_ready, 1, __ATOMIC_RELEASE);
  } else {
    while (!__atomic_load_n(&shared_tables_ready, __ATOMIC_ACQUIRE)) __asm__ volatile("pause");
  }
  guest_cpu_tables_load(cpu);
  guest_write_cr3(guest_cr3_a);
  enable_xsave_if_present();
  if (cpu == 0) guest_serial_puts("guest: up\n");
  for (;;) guest_tick(cpu);
}
