/* One small function per introspection event. Each global label is the
 * address of the very instruction that raises the event (README.md "The
 * loop"), so drivers and tests can match an event's rip against the symbol. */
#include "guest.h"

	.section .text.probes, "ax", @progbits
	.code64

.macro FUNC name
	.p2align 4
	.globl \name
	.type \name, @function
\name:
.endm
.macro LABEL name
	.globl \name
\name:
.endm

/* The guest's own breakpoint; its #BP handler counts guest_int3_count. */
FUNC guest_run_self_int3
LABEL guest_self_int3
	int3
	ret
	.size guest_run_self_int3, . - guest_run_self_int3

/* void guest_run_cpuid_probe(uint32_t out[4]): leaf 0, subleaf 0. */
FUNC guest_run_cpuid_probe
	push %rbx
	mov %rdi, %r8
	xor %eax, %eax
	xor %ecx, %ecx
LABEL guest_cpuid_probe
	cpuid
	mov %eax, 0(%r8)
	mov %ebx, 4(%r8)
	mov %ecx, 8(%r8)
	mov %edx, 12(%r8)
	pop %rbx
	ret
	.size guest_run_cpuid_probe, . - guest_run_cpuid_probe

/* uint64_t guest_run_msr_probe(uint64_t value): write then read back
 * IA32_KERNEL_GS_BASE. */
FUNC guest_run_msr_probe
	mov $GUEST_MSR_KERNEL_GS_BASE, %ecx
	mov %edi, %eax
	mov %rdi, %rdx
	shr $32, %rdx
LABEL guest_msr_probe
	wrmsr
	xor %eax, %eax
	xor %edx, %edx
LABEL guest_msr_read_probe
	rdmsr
	shl $32, %rdx
	or %rdx, %rax
	ret
	.size guest_run_msr_probe, . - guest_run_msr_probe

/* Control-register writes with unchanged values (CR8 = 0: TPR stays open). */
FUNC guest_run_cr_probe
	mov %cr0, %rax
LABEL guest_cr_probe
	mov %rax, %cr0
	mov %cr4, %rax
	mov %rax, %cr4
	xor %eax, %eax
	mov %rax, %cr8
	ret
	.size guest_run_cr_probe, . - guest_run_cr_probe

FUNC guest_run_dr_probe
LABEL guest_dr_probe
	mov %dr7, %rax
	mov %rax, %dr7
	ret
	.size guest_run_dr_probe, . - guest_run_dr_probe

/* XCR0 = x87|SSE. Raises #UD without XSAVE/CR4.OSXSAVE (and always under
 * Unicorn 2.0.1); the #UD handler then skips these 3 bytes. */
FUNC guest_run_xcr_probe
	xor %ecx, %ecx
	xor %edx, %edx
	mov $3, %eax
LABEL guest_xcr_probe
	xsetbv
	ret
	.size guest_run_xcr_probe, . - guest_run_xcr_probe

/* void guest_run_desc_probe(const gdtr *, const idtr *): reload both tables. */
FUNC guest_run_desc_probe
LABEL guest_desc_probe
	lgdt (%rdi)
	lidt (%rsi)
	ret
	.size guest_run_desc_probe, . - guest_run_desc_probe

/* vmcall (3 bytes), hypercall number 0 in %rax. Without VMX: #UD, which the
 * handler skips; under a hypervisor that handles it, it simply returns. */
FUNC guest_run_hypercall_probe
	push %rbx
	xor %eax, %eax
	xor %ebx, %ebx
	xor %ecx, %ecx
	xor %edx, %edx
	xor %esi, %esi
LABEL guest_hypercall_probe
	vmcall
	pop %rbx
	ret
	.size guest_run_hypercall_probe, . - guest_run_hypercall_probe

/* uint64_t guest_run_pf_probe(void): read guest_as_probe_page. Called in
 * address space B only, where that page is not present: #PF, and the handler
 * resumes at guest_pf_probe_end. */
FUNC guest_run_pf_probe
	xor %eax, %eax
LABEL guest_pf_probe
	mov guest_as_probe_page(%rip), %rax
LABEL guest_pf_probe_end
	ret
	.size guest_run_pf_probe, . - guest_run_pf_probe

FUNC guest_run_int_probe
LABEL guest_int_probe
	int $GUEST_SOFTINT_VECTOR
	ret
	.size guest_run_int_probe, . - guest_run_int_probe
