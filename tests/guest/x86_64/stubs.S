/* stubs.S - interrupt, system call and task switch stubs.
 *
 * The IRQ and int $0x80 stubs never touch %rbp, so a frame-pointer walk
 * through the kernel ends in the interrupted code's frame, and they carry CFI
 * describing the hardware trap frame (RIP, CS, RFLAGS, RSP, SS at entry) so a
 * CFI unwinder steps from the kernel into the interrupted context. */

/* CFI at entry: CFA = the address just above SS. */
.macro TRAP_CFI
	.cfi_startproc simple
	.cfi_signal_frame
	.cfi_def_cfa %rsp, 40
	.cfi_offset %rip, -40
	.cfi_offset %rsp, -16
	.cfi_same_value %rbp
	.cfi_same_value %rbx
	.cfi_same_value %r12
	.cfi_same_value %r13
	.cfi_same_value %r14
	.cfi_same_value %r15
.endm

.macro CFI_PUSH reg
	pushq \reg
	.cfi_adjust_cfa_offset 8
.endm
.macro CFI_POP reg
	popq \reg
	.cfi_adjust_cfa_offset -8
.endm

	.text
	/* 40 + 9 * 8 = 112 bytes below the CPU-aligned stack: calls are
	 * 16-byte aligned. */
	.globl irq0_entry
	.p2align 4
irq0_entry:
	TRAP_CFI
	CFI_PUSH %rax
	CFI_PUSH %rcx
	CFI_PUSH %rdx
	CFI_PUSH %rsi
	CFI_PUSH %rdi
	CFI_PUSH %r8
	CFI_PUSH %r9
	CFI_PUSH %r10
	CFI_PUSH %r11
	call irq0_c
	CFI_POP %r11
	CFI_POP %r10
	CFI_POP %r9
	CFI_POP %r8
	CFI_POP %rdi
	CFI_POP %rsi
	CFI_POP %rdx
	CFI_POP %rcx
	CFI_POP %rax
	iretq
	.cfi_endproc

	/* int $0x80: nr in rax, arg in rbx, result in rax. */
	.globl syscall_entry
	.p2align 4
syscall_entry:
	TRAP_CFI
	CFI_PUSH %rax                      /* slot for the result */
	CFI_PUSH %rcx
	CFI_PUSH %rdx
	CFI_PUSH %rsi
	CFI_PUSH %rdi
	CFI_PUSH %r8
	CFI_PUSH %r9
	CFI_PUSH %r10
	CFI_PUSH %r11
	movq %rax, %rdi
	movq %rbx, %rsi
	call syscall_dispatch
	movq %rax, 64(%rsp)
	CFI_POP %r11
	CFI_POP %r10
	CFI_POP %r9
	CFI_POP %r8
	CFI_POP %rdi
	CFI_POP %rsi
	CFI_POP %rdx
	CFI_POP %rcx
	CFI_POP %rax
	iretq
	.cfi_endproc

	/* Unused IRQ lines (spurious IRQ7/15): nothing to acknowledge. */
	.globl irq_ignore
irq_ignore:
	iretq

	/* Exceptions: push a dummy error code where the CPU pushes none, then
	 * the vector; exc_c reports and halts. */
.macro EXC vec
	.p2align 4
exc_\vec:
	.if !(\vec == 8 || (\vec >= 10 && \vec <= 14) || \vec == 17 || \vec == 21)
	pushq $0
	.endif
	pushq $\vec
	jmp exc_common
.endm
	.altmacro
.macro EXC_REF vec
	.quad exc_\vec
.endm
	.set v, 0
	.rept 32
	EXC %v
	.set v, v + 1
	.endr
exc_common:
	movq (%rsp), %rdi               /* vector */
	movq 8(%rsp), %rsi              /* error code */
	movq 16(%rsp), %rdx             /* rip */
	andq $-16, %rsp
	call exc_c
1:	cli
	hlt
	jmp 1b

	.section .rodata
	.p2align 3
	.globl exc_table
exc_table:
	.set v, 0
	.rept 32
	EXC_REF %v
	.set v, v + 1
	.endr
	.noaltmacro

	.text
	/* qg_switch(uintptr_t *save_sp, uintptr_t new_sp): callee-saved
	 * registers on the old stack, resume the new one. */
	.globl qg_switch
	.p2align 4
qg_switch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	movq %rsp, (%rdi)
	movq %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret

	/* First switch to a user task returns here: the iret frame to ring 3
	 * follows on the task's kernel stack.  rbp is already 0. */
	.globl user_enter
user_enter:
	xorl %eax, %eax
	xorl %ebx, %ebx
	xorl %ecx, %ecx
	xorl %edx, %edx
	xorl %esi, %esi
	xorl %edi, %edi
	xorl %r8d, %r8d
	xorl %r9d, %r9d
	xorl %r10d, %r10d
	xorl %r11d, %r11d
	xorl %r12d, %r12d
	xorl %r13d, %r13d
	xorl %r14d, %r14d
	xorl %r15d, %r15d
	iretq

	/* AP trampoline: copied to physical 0x8000, entered in real mode by the
	 * SIPI; goes to long mode with the kernel's page tables and jumps to
	 * ap_entry_c on the stack the BSP put in ap_tr_stack. */
#define TR(x) ((x) - ap_tramp_start + 0x8000)
	.data
	.globl ap_tramp_start, ap_tramp_end, ap_tr_cr3, ap_tr_stack, ap_tr_entry
	.p2align 4
	.code16
ap_tramp_start:
	cli
	cld
	xorw %ax, %ax
	movw %ax, %ds
	lgdtl TR(ap_tr_gdtr)
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x18, $TR(ap_tr_32)
	.code32
ap_tr_32:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl %cr4, %eax
	orl $0x20, %eax
	movl %eax, %cr4
	movl TR(ap_tr_cr3), %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx
	rdmsr
	orl $0x100, %eax
	wrmsr
	movl %cr0, %eax
	orl $0x80000000, %eax
	movl %eax, %cr0
	ljmp $0x08, $TR(ap_tr_64)
	.code64
ap_tr_64:
	movq TR(ap_tr_stack), %rsp
	movq TR(ap_tr_entry), %rax
	call *%rax                      /* ap_setup_c: descriptor tables */
	xorl %ebp, %ebp
	pushq $0                        /* zero return address: end of stack */
	movabsq $ap_main, %rax          /* root of the AP's chains */
	jmp *%rax
	.p2align 3
ap_tr_gdt:
	.quad 0
	.quad 0x00af9a000000ffff        /* 0x08 code 64 */
	.quad 0x00cf92000000ffff        /* 0x10 data */
	.quad 0x00cf9a000000ffff        /* 0x18 code 32 */
ap_tr_gdtr:
	.word ap_tr_gdtr - ap_tr_gdt - 1
	.long TR(ap_tr_gdt)
	.p2align 3
ap_tr_cr3:
	.quad 0
ap_tr_stack:
	.quad 0
ap_tr_entry:
	.quad 0
ap_tramp_end:
