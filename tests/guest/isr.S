/* 256 interrupt stubs, GUEST_ISR_STUB_SIZE bytes apart (so the IDT builder
 * computes each address), and the common path: save every GPR, call
 * guest_exception_dispatch(frame), restore (the handler may have moved rip),
 * iretq. Stacks stay on the interrupted one: CPL 0 only, no IST, which also
 * keeps delivery simple for drivers that deliver through the IDT themselves. */
#include "guest.h"

	.section .text.isr, "ax", @progbits
	.code64
	.p2align 4
	.globl guest_isr_stubs
	.type guest_isr_stubs, @function
guest_isr_stubs:
	.set .Lvec, 0
	.rept 256
	/* Fixed encodings (push imm32, jmp rel32): every stub is at most 12
	 * bytes, so aligning each to 16 gives the fixed stride; check-elf also
	 * checks the table is 256 * 16 bytes. */
	.p2align 4, 0xcc
	/* Vectors where the CPU pushes an error code: 8 10-14 17 21 29 30. */
	.if (.Lvec == 8) | ((.Lvec >= 10) & (.Lvec <= 14)) | (.Lvec == 17) | (.Lvec == 21) | (.Lvec == 29) | (.Lvec == 30)
	.else
	.byte 0x6a, 0x00		/* pushq $0 */
	.endif
	.byte 0x68			/* pushq $imm32 */
	.long .Lvec
	.byte 0xe9			/* jmp rel32 */
	.long guest_isr_common - . - 4
	.set .Lvec, .Lvec + 1
	.endr
	.p2align 4, 0xcc
	.size guest_isr_stubs, . - guest_isr_stubs

	.type guest_isr_common, @function
guest_isr_common:
	push %rax
	push %rbx
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %rbp
	push %r8
	push %r9
	push %r10
	push %r11
	push %r12
	push %r13
	push %r14
	push %r15
	cld
	mov %rsp, %rdi
	call guest_exception_dispatch
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rbp
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rbx
	pop %rax
	add $16, %rsp		/* vector, error code */
	iretq
	.size guest_isr_common, . - guest_isr_common
