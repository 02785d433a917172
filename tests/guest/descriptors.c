/* Per-vCPU GDT (null, code64 0x08, data 0x10, TSS 0x18) and TSS, and the one
 * IDT all vCPUs share: 256 interrupt gates into isr.S's stubs. */
#include "guest.h"

struct tss64 {
  uint32_t reserved0;
  uint64_t rsp[3];
  uint64_t reserved1;
  uint64_t ist[7];
  uint64_t reserved2;
  uint16_t reserved3;
  uint16_t iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss64) == 104, "64-bit TSS layout");

struct idt_gate {
  uint16_t offset_low;
  uint16_t selector;
  uint8_t ist;
  uint8_t type_attr;
  uint16_t offset_mid;
  uint32_t offset_high;
  uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct idt_gate) == 16, "64-bit IDT gate layout");

#define GDT_ENTRIES 5 /* null, code, data, TSS (two slots) */
#define GATE_INTERRUPT_DPL0 0x8e

struct cpu_tables {
  uint64_t gdt[GDT_ENTRIES];
  struct tss64 tss;
  struct guest_dtr gdtr;
} __attribute__((aligned(64)));

static struct cpu_tables cpu_tables[GUEST_MAX_CPUS];
static struct idt_gate idt[256] __attribute__((aligned(16)));
static struct guest_dtr idtr;

void guest_idt_build(void) {
  for (int v = 0; v < 256; v++) {
    uint64_t handler = (uint64_t)(uintptr_t)guest_isr_stubs + (uint64_t)v * GUEST_ISR_STUB_SIZE;
    idt[v] = (struct idt_gate){
        .offset_low = (uint16_t)handler,
        .selector = GUEST_SEL_CODE64,
        .ist = 0,
        .type_attr = GATE_INTERRUPT_DPL0,
        .offset_mid = (uint16_t)(handler >> 16),
        .offset_high = (uint32_t)(handler >> 32),
    };
  }
  idtr.limit = sizeof idt - 1;
  idtr.base = (uint64_t)(uintptr_t)idt;
}

static void tss_descriptor(uint64_t out[2], const struct tss64 *tss) {
  uint64_t base = (uint64_t)(uintptr_t)tss;
  uint64_t limit = sizeof *tss - 1;
  out[0] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) /* P, 64-bit TSS available */
           | (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
  out[1] = base >> 32;
}

void guest_cpu_tables_load(uint64_t cpu) {
  struct cpu_tables *t = &cpu_tables[cpu];
  t->gdt[0] = 0;
  t->gdt[GUEST_SEL_CODE64 / 8] = 0x00af9b000000ffffull; /* accessed bit preset */
  t->gdt[GUEST_SEL_DATA / 8] = 0x00cf93000000ffffull;
  t->tss = (struct tss64){.iomap_base = sizeof(struct tss64)};
  t->tss.rsp[0] = (uint64_t)(uintptr_t)guest_stacks[cpu] + GUEST_STACK_SIZE;
  tss_descriptor(&t->gdt[GUEST_SEL_TSS / 8], &t->tss);
  t->gdtr.limit = sizeof t->gdt - 1;
  t->gdtr.base = (uint64_t)(uintptr_t)t->gdt;

  __asm__ volatile(
      "lgdt %0\n\t"
      "pushq %1\n\t"
      "leaq 1f(%%rip), %%rax\n\t"
      "pushq %%rax\n\t"
      "lretq\n"
      "1:\n\t"
      "movl %2, %%eax\n\t"
      "movl %%eax, %%ds\n\t"
      "movl %%eax, %%es\n\t"
      "movl %%eax, %%ss\n\t"
      "movl %%eax, %%fs\n\t"
      "movl %%eax, %%gs\n\t"
      "movw %3, %%ax\n\t"
      "ltr %%ax\n\t"
      "lidt %4"
      :
      : "m"(t->gdtr), "i"(GUEST_SEL_CODE64), "i"(GUEST_SEL_DATA), "i"(GUEST_SEL_TSS), "m"(idtr)
      : "rax", "memory");
}

const struct guest_dtr *guest_gdtr(uint64_t cpu) { return &cpu_tables[cpu].gdtr; }
const struct guest_dtr *guest_idtr(void) { return &idtr; }
