/* What each interrupt means to the guest. Every exception vector is counted;
 * the planned ones (README.md "Exceptions") are resumed, anything else is a
 * bug worth stopping on: print it and halt this vCPU. */
#include "guest.h"

volatile uint64_t guest_exception_count[32];
volatile uint64_t guest_int3_count;
volatile uint64_t guest_softint_count;

#define VEC_BP 3
#define VEC_UD 6
#define VEC_PF 14
#define INSN_LEN_VMCALL 3
#define INSN_LEN_XSETBV 3

static uint64_t addr(const char *label) { return (uint64_t)(uintptr_t)label; }

static void count(volatile uint64_t *c) { __atomic_fetch_add(c, 1, __ATOMIC_RELAXED); }

void guest_exception_dispatch(struct guest_frame *f) {
  if (f->vector < 32) count(&guest_exception_count[f->vector]);
  switch (f->vector) {
    case VEC_BP: /* a trap: rip is past the int3 */
      if (f->rip == addr(guest_self_int3) + 1) {
        count(&guest_int3_count);
        return;
      }
      break;
    case VEC_UD:
      if (f->rip == addr(guest_hypercall_probe)) {
        f->rip += INSN_LEN_VMCALL;
        return;
      }
      if (f->rip == addr(guest_xcr_probe)) {
        f->rip += INSN_LEN_XSETBV;
        return;
      }
      break;
    case VEC_PF:
      if (f->rip == addr(guest_pf_probe)) {
        f->rip = addr(guest_pf_probe_end);
        return;
      }
      break;
    case GUEST_SOFTINT_VECTOR:
      count(&guest_softint_count);
      return;
    default:
      break;
  }
  guest_panic(f->vector, f->rip);
}

void guest_panic(uint64_t vector, uint64_t rip) {
  guest_serial_puts("guest: panic ");
  guest_serial_put_hex(vector, 2);
  guest_serial_puts(" ");
  guest_serial_put_hex(rip, 16);
  guest_serial_puts("\n");
  guest_halt_forever();
}
