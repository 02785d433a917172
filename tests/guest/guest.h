/* The bundled test guest: declarations shared by its C and assembly files.
 * The symbols named guest_* are the contract in README.md. */
#ifndef MICROVMI_GUEST_H
#define MICROVMI_GUEST_H

#define GUEST_MAX_CPUS 8
#define GUEST_STACK_SIZE 16384
#define GUEST_BUFFER_SIZE 8192
#define GUEST_BUFFER_TICK_OFFSET 0x100
#define GUEST_BUFFER_PERCPU_OFFSET 0x1000
#define GUEST_PAGE_SIZE 4096

#define GUEST_SEL_CODE64 0x08
#define GUEST_SEL_DATA 0x10
#define GUEST_SEL_TSS 0x18

#define GUEST_SOFTINT_VECTOR 0x81
#define GUEST_MSR_KERNEL_GS_BASE 0xC0000102
/* "microvmi" in ASCII; masked to 47 bits on use so the MSR value stays canonical. */
#define GUEST_MSR_PROBE_BASE 0x6d6963726f766d69ull
#define GUEST_MSR_PROBE_MASK 0x00007fffffffffffull

/* The image lives in [2 MiB, 4 MiB): that region is mapped with 4 KiB pages. */
#define GUEST_IMAGE_REGION 0x200000
#define GUEST_IMAGE_REGION_END 0x400000

#ifndef __ASSEMBLER__
#include <stdint.h>

#define GUEST_NOINLINE __attribute__((noinline))
#define GUEST_NORETURN __attribute__((noreturn))

/* Contract data (README.md "Symbols"). */
extern volatile uint64_t guest_counter;
extern volatile uint64_t guest_percpu_counter[GUEST_MAX_CPUS];
extern volatile uint8_t guest_buffer[GUEST_BUFFER_SIZE];
extern volatile uint64_t guest_int3_count;
extern volatile uint64_t guest_exception_count[32];
extern volatile uint64_t guest_softint_count;
extern volatile uint64_t guest_cr3_a;
extern volatile uint64_t guest_cr3_b;
extern volatile uint8_t guest_as_probe_page[GUEST_PAGE_SIZE];
extern volatile uint32_t guest_cpuid_last[4];
extern volatile uint64_t guest_msr_last;

/* Instruction labels in probes.S; only their addresses matter to C. */
extern const char guest_self_int3[], guest_hypercall_probe[], guest_xcr_probe[],
    guest_pf_probe[], guest_pf_probe_end[];

/* The interrupt stubs in isr.S: 256 stubs of GUEST_ISR_STUB_SIZE bytes each. */
#define GUEST_ISR_STUB_SIZE 16
extern const char guest_isr_stubs[];

/* What isr.S pushes before calling guest_exception_dispatch(). */
struct guest_frame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
  uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error_code;
  uint64_t rip, cs, rflags, rsp, ss;
};

struct guest_dtr {
  uint16_t limit;
  uint64_t base;
} __attribute__((packed));

/* entry64.S */
extern uint8_t guest_stacks[GUEST_MAX_CPUS][GUEST_STACK_SIZE];

/* main.c */
GUEST_NORETURN void guest_main(uint64_t cpu, uint64_t ncpus);

/* tick.c */
GUEST_NOINLINE void guest_tick(uint64_t cpu);

/* serial.c */
void guest_serial_init(void);
void guest_serial_puts(const char *s);
void guest_serial_put_dec(uint64_t v);
void guest_serial_put_hex(uint64_t v, int digits);

/* paging.c: builds both address spaces and sets guest_cr3_a/b (vCPU 0 only). */
void guest_paging_build(void);

/* descriptors.c */
void guest_idt_build(void);           /* vCPU 0, once */
void guest_cpu_tables_load(uint64_t cpu); /* every vCPU: GDT + TSS + IDT */
const struct guest_dtr *guest_gdtr(uint64_t cpu);
const struct guest_dtr *guest_idtr(void);

/* exceptions.c */
void guest_exception_dispatch(struct guest_frame *frame);
GUEST_NORETURN void guest_panic(uint64_t vector, uint64_t rip);

/* probes.S: each executes one event-raising instruction at its label. */
void guest_run_self_int3(void);
void guest_run_cpuid_probe(volatile uint32_t out[4]);
uint64_t guest_run_msr_probe(uint64_t value);
void guest_run_cr_probe(void);
void guest_run_dr_probe(void);
void guest_run_xcr_probe(void);
void guest_run_desc_probe(const struct guest_dtr *gdtr, const struct guest_dtr *idtr);
void guest_run_hypercall_probe(void);
uint64_t guest_run_pf_probe(void);
void guest_run_int_probe(void);

/* cpu.h-like helpers: tiny, so inline here. */
static inline void guest_outb(uint16_t port, uint8_t v) {
  __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}
static inline uint8_t guest_inb(uint16_t port) {
  uint8_t v;
  __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}
static inline void guest_write_cr3(uint64_t v) {
  __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}
static inline uint64_t guest_read_cr4(void) {
  uint64_t v;
  __asm__ volatile("mov %%cr4, %0" : "=r"(v));
  return v;
}
static inline void guest_write_cr4(uint64_t v) {
  __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}
static inline void guest_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
  __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
static inline GUEST_NORETURN void guest_halt_forever(void) {
  for (;;) __asm__ volatile("cli; hlt");
}
#endif /* __ASSEMBLER__ */
#endif
