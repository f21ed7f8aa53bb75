/* Multiboot v1 entry: 32-bit protected mode, paging off, running at the
 * physical load address.  Builds the kernel page directory (identity map of
 * the low 16 MiB, needed until we jump high and by the AP trampoline, plus the
 * same 16 MiB at 0xC0000000), turns paging on and calls kmain high. */
#include "arch.h"

	.section .multiboot, "a"
	.p2align 2
	.long 0x1BADB002		/* magic */
	.long 0				/* flags: ELF layout, nothing asked */
	.long -0x1BADB002		/* checksum */

	.text
	.globl _start
	.type _start, @function
_start:
	cli
	/* 4 page tables mapping 0..16 MiB, filled with 4 KiB pages. */
	movl $(boot_pt - KOFF), %edi
	movl $(PTE_P | PTE_W), %eax
	movl $(4 * 1024), %ecx
1:	movl %eax, (%edi)
	addl $4096, %eax
	addl $4, %edi
	loop 1b
	/* PDE 0..3 and 768..771 -> those tables */
	movl $(kernel_pd - KOFF), %edi
	movl $(boot_pt - KOFF + PTE_P + PTE_W), %eax
	xorl %ecx, %ecx
2:	movl %eax, (%edi, %ecx, 4)
	movl %eax, (768 * 4)(%edi, %ecx, 4)
	addl $4096, %eax
	incl %ecx
	cmpl $4, %ecx
	jne 2b
	movl %edi, %cr3
	movl %cr0, %eax
	orl $0x80010000, %eax		/* PG | WP */
	movl %eax, %cr0
	leal 3f, %eax			/* absolute (high) address */
	jmp *%eax
3:	movl %ebx, qg_mb_info		/* multiboot info (phys), arch_cmdline() */
	movl $boot_stack_top - BOOT_STACK_PAD, %esp
	xorl %ebp, %ebp			/* ends the frame-pointer chain */
	pushl $0			/* zero return address: ends a CFI unwind */
	jmp kmain			/* so kmain is the root frame */
	.size _start, . - _start

	.bss
	.p2align 12
	.globl kernel_pd
kernel_pd:	.skip 4096
boot_pt:	.skip 4 * 4096
	.globl boot_stack, boot_stack_top
boot_stack:	.skip KSTACK_SIZE
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
