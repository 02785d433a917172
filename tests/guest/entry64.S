/* The 64-bit entry every vCPU starts at (README.md "64-bit entry"):
 * %rdi = vCPU id, %rsi = vCPU count, no usable stack yet. */
#include "guest.h"

	.section .text.entry, "ax", @progbits
	.code64
	.globl guest_entry64
	.type guest_entry64, @function
guest_entry64:
	cli
	cld
	/* Ids past the per-vCPU tables have no stack: park them. */
	cmp $GUEST_MAX_CPUS, %rdi
	jae 1f
	mov %rdi, %rax
	inc %rax
	shl $14, %rax		/* (id + 1) * GUEST_STACK_SIZE */
.if GUEST_STACK_SIZE != (1 << 14)
.error "entry64.S assumes 16 KiB stacks"
.endif
	lea guest_stacks(%rip), %rsp
	add %rax, %rsp
	xor %ebp, %ebp
	test %rsi, %rsi
	jnz 2f
	mov $1, %esi
2:	call guest_main
1:	cli
	hlt
	jmp 1b
	.size guest_entry64, . - guest_entry64

	.section .bss.stacks, "aw", @nobits
	.p2align 12
	.globl guest_stacks
	.type guest_stacks, @object
guest_stacks:
	.skip GUEST_MAX_CPUS * GUEST_STACK_SIZE
	.size guest_stacks, . - guest_stacks
