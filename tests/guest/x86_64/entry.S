/* entry.S - PVH entry (32-bit protected mode, paging off) -> long mode ->
 * higher half -> kmain.  Page tables are static data. */
#define KVMA 0xffffffff80000000
#define PA(x) ((x) - KVMA)

	/* XEN_ELFNOTE_PHYS32_ENTRY (18): QEMU reads the desc as 8 bytes. */
	.section .note.Xen, "a", @note
	.p2align 2
	.long 4, 8, 18
	.asciz "Xen"
	.p2align 2
	.quad PA(pvh_start)

	.text
	.code32
	.globl pvh_start
pvh_start:
	cli
	cld
	movl $PA(boot_pml4), %eax
	movl %eax, %cr3
	movl %cr4, %eax
	orl $0x20, %eax                 /* PAE */
	movl %eax, %cr4
	movl $0xc0000080, %ecx          /* EFER.LME */
	rdmsr
	orl $0x100, %eax
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax           /* PG | PE */
	movl %eax, %cr0
	lgdt PA(boot_gdtr)
	ljmp $0x08, $PA(long_entry)

	.code64
long_entry:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movabsq $higher_half, %rax
	jmp *%rax
higher_half:
	/* Leave 64 zero bytes above kmain's stack: TSS.rsp0 points at
	 * boot_stack_top while the kernel task runs, and no ring-3 trap frame
	 * must seem to be there. */
	movabsq $boot_stack_top - 64, %rsp
	/* PVH hands the physical address of hvm_start_info in ebx; keep it for
	 * arch_cmdline() (zero-extended: rbx's upper half is undefined here). */
	movl %ebx, %eax
	movabsq $qg_pvh_start_info, %rcx
	movq %rax, (%rcx)
	xorl %ebp, %ebp
	pushq $0                        /* zero return address: end of stack */
	jmp kmain

	.data
	.p2align 3
boot_gdt:
	.quad 0
	.quad 0x00af9a000000ffff        /* 0x08 kernel code 64 */
	.quad 0x00cf92000000ffff        /* 0x10 kernel data */
boot_gdt_end:
boot_gdtr:
	.word boot_gdt_end - boot_gdt - 1
	.long PA(boot_gdt)

	/* 4-level tables: identity 0-1 GiB (boot, AP trampoline), the LAPIC page
	 * at 0xfee00000, and 0-1 GiB again at KVMA. */
	.p2align 12
	.globl boot_pml4
boot_pml4:
	.quad PA(boot_pdpt_low) + 3
	.fill 510, 8, 0
	.quad PA(boot_pdpt_high) + 3
boot_pdpt_low:
	.quad PA(boot_pd) + 3
	.fill 2, 8, 0
	.quad PA(boot_pd_apic) + 3
	.fill 508, 8, 0
boot_pdpt_high:
	.fill 510, 8, 0
	.quad PA(boot_pd) + 3
	.fill 1, 8, 0
boot_pd:
	.set i, 0
	.rept 512
	.quad (i << 21) | 0x83          /* P | RW | PS (2 MiB) */
	.set i, i + 1
	.endr
boot_pd_apic:
	.fill 503, 8, 0
	.quad 0xfee00000 | 0x9b         /* P | RW | PWT | PCD | PS */
	.fill 8, 8, 0

	.bss
	.p2align 12
	.globl boot_stack_top
boot_stack:
	.skip 32768
boot_stack_top:
