/* PVH boot path (QEMU -kernel): the ELF note that names the 32-bit entry, and
 * the 32-bit code that turns on long mode with throw-away identity page tables
 * and jumps to guest_entry64 as vCPU 0 of 1. The 64-bit code then builds the
 * real tables exactly as it does when a driver starts it in long mode. */
#include "guest.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* QEMU reads the descriptor as a 64-bit value and assumes 4-byte note
 * alignment (the note's segment must have p_align 4): keep it a .quad in a
 * 4-aligned section. */
	.section .note.pvh, "a", @note
	.p2align 2
	.long 2f - 1f		/* namesz */
	.long 4f - 3f		/* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY
1:	.asciz "Xen"
2:	.p2align 2
3:	.quad guest_pvh_start
4:	.p2align 2

#define CR0_BOOT 0x80050033	/* PG AM WP NE ET MP PE, as the 64-bit contract */
#define CR4_BOOT 0x000006a0	/* PAE PGE OSFXSR OSXMMEXCPT */
#define MSR_EFER 0xC0000080
#define EFER_SCE (1 << 0)
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)

	.section .text.boot, "ax", @progbits
	.code32
	.globl guest_pvh_start
	.type guest_pvh_start, @function
guest_pvh_start:
	cli
	cld
	/* 4 GiB identity map with 2 MiB pages: PD entries i = i * 2 MiB | PS|W|P. */
	mov $boot_pd, %edi
	xor %ecx, %ecx
1:	mov %ecx, %eax
	shl $21, %eax
	or $0x83, %eax
	mov %eax, (%edi,%ecx,8)
	mov %ecx, %eax
	shr $11, %eax		/* bits 32+ of i * 2 MiB */
	mov %eax, 4(%edi,%ecx,8)
	inc %ecx
	cmp $2048, %ecx
	jne 1b
	/* PDPT[0..3] -> the four PDs, PML4[0] -> PDPT. */
	xor %ecx, %ecx
2:	mov %ecx, %eax
	shl $12, %eax
	add $boot_pd + 3, %eax
	mov %eax, boot_pdpt(,%ecx,8)
	movl $0, boot_pdpt + 4(,%ecx,8)
	inc %ecx
	cmp $4, %ecx
	jne 2b
	movl $boot_pdpt + 3, boot_pml4
	movl $0, boot_pml4 + 4

	mov $boot_pml4, %eax
	mov %eax, %cr3
	mov $CR4_BOOT, %eax
	mov %eax, %cr4
	/* EFER: LME and SCE always, NXE only where the CPU has NX (else #GP). */
	mov $0x80000001, %eax
	cpuid
	xor %ebx, %ebx
	bt $20, %edx
	jnc 3f
	mov $EFER_NXE, %ebx
3:	mov $MSR_EFER, %ecx
	rdmsr
	or $(EFER_LME | EFER_SCE), %eax
	or %ebx, %eax
	wrmsr
	mov $CR0_BOOT, %eax
	mov %eax, %cr0
	lgdt boot_gdtr
	ljmp $GUEST_SEL_CODE64, $boot_long_mode

	.code64
boot_long_mode:
	mov $GUEST_SEL_DATA, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	xor %edi, %edi		/* vCPU 0 */
	mov $1, %esi		/* of 1 */
	xor %esp, %esp		/* as the 64-bit contract: the entry picks its stack */
	jmp guest_entry64
	.size guest_pvh_start, . - guest_pvh_start

	.section .data.boot, "aw", @progbits
	.p2align 3
/* Accessed bits preset so loading a selector never writes the table. */
boot_gdt:
	.quad 0
	.quad 0x00af9b000000ffff	/* 0x08: 64-bit code */
	.quad 0x00cf93000000ffff	/* 0x10: data */
boot_gdt_end:
	.p2align 3
	.word 0
boot_gdtr:
	.word boot_gdt_end - boot_gdt - 1
	.long boot_gdt

	.section .bss.boot, "aw", @nobits
	.p2align 12
boot_pml4:
	.skip 4096
boot_pdpt:
	.skip 4096
boot_pd:
	.skip 4 * 4096
