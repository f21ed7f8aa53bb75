/* Interrupt, system-call and context-switch entry code.
 *
 * The stubs never touch %ebp before calling C, so a frame-pointer walk from a
 * handler reaches the interrupted code's frame chain.  The CFI-carrying stubs
 * (int $0x80, timer, trap_return) describe the hardware trap frame (EIP at
 * CFA-20, the ring-3 ESP at CFA-8, CFA = esp at entry + 20; the timer's rule
 * for esp also handles an entry from ring 0) and the registers saved by
 * pusha, so a CFI unwinder steps from the kernel into the interrupted code. */
#include "arch.h"

/* DWARF register numbers (i386) */
#define R_EAX 0
#define R_ECX 1
#define R_EDX 2
#define R_EBX 3
#define R_ESP 4
#define R_EBP 5
#define R_ESI 6
#define R_EDI 7
#define R_EIP 8

/* where pusha put the registers, relative to the trap-frame CFA */
.macro PUSHA_CFI
	.cfi_offset R_EAX, -32
	.cfi_offset R_ECX, -36
	.cfi_offset R_EDX, -40
	.cfi_offset R_EBX, -44
	.cfi_offset R_EBP, -52
	.cfi_offset R_ESI, -56
	.cfi_offset R_EDI, -60
.endm

.macro SAVE_REGS
	pushal
	.cfi_adjust_cfa_offset 32
	PUSHA_CFI
	pushl %ds
	.cfi_adjust_cfa_offset 4
	pushl %es
	.cfi_adjust_cfa_offset 4
	pushl %fs
	.cfi_adjust_cfa_offset 4
	pushl %gs
	.cfi_adjust_cfa_offset 4
	movw $SEL_KDATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %fs
	movw %ax, %gs
.endm

/* Rule for esp in a stub entered from ring 3 or ring 0.  From ring 0 the CPU
 * pushes no SS:ESP: EIP, CS, EFLAGS still sit at CFA-20..-12 but the
 * interrupted esp is CFA-8 itself, not the word stored there.  So the rule
 * tests the saved CS (DW_CFA_val_expression, the CFA is pushed first):
 *   dup; const1s -16; plus; deref; lit3; and      -> CFA, CS&3
 *   swap; lit8; minus; swap                       -> CFA-8, CS&3
 *   bra +3 (to deref); skip +1 (to nop); deref; nop */
.macro ESP_RULE_ANY_RING
	.cfi_escape 0x16, R_ESP, 19, 0x12, 0x09, 0xf0, 0x22, 0x06, 0x33, 0x1a, 0x16, 0x38, 0x1c, 0x16, 0x28, 0x03, 0x00, 0x2f, 0x01, 0x00, 0x06, 0x96
.endm

/* Start of a stub: hardware frame from ring 3, error/vector slots, pusha,
 * segment registers; CFI follows every push. */
.macro TRAP_PROLOGUE name, vec, anyring=0
	.globl \name
	.type \name, @function
	.p2align 4
\name:
	.cfi_startproc simple
	.cfi_signal_frame
	.cfi_def_cfa R_ESP, 20
	.cfi_offset R_EIP, -20
	.if \anyring
	ESP_RULE_ANY_RING
	.else
	.cfi_offset R_ESP, -8
	.endif
	pushl $0			/* error code slot */
	.cfi_adjust_cfa_offset 4
	pushl $\vec
	.cfi_adjust_cfa_offset 4
	SAVE_REGS
.endm

	.text
/* int $0x80: syscall_dispatch(eax, ebx), result back into the saved eax.
 * TF offsets: ebx 32, eax 44 (struct trapframe). */
TRAP_PROLOGUE syscall_entry, 0x80
	pushl 32(%esp)			/* arg */
	.cfi_adjust_cfa_offset 4
	pushl 48(%esp)			/* nr */
	.cfi_adjust_cfa_offset 4
	call syscall_dispatch
	addl $8, %esp
	.cfi_adjust_cfa_offset -8
	movl %eax, 44(%esp)
	jmp trap_return
	.cfi_endproc
	.size syscall_entry, . - syscall_entry

/* IRQ0 (PIT), taken in ring 3 or ring 0. */
TRAP_PROLOGUE irq0_entry, 0x20, 1
	pushl %esp
	.cfi_adjust_cfa_offset 4
	call i386_timer_irq
	addl $4, %esp
	.cfi_adjust_cfa_offset -4
	jmp trap_return
	.cfi_endproc
	.size irq0_entry, . - irq0_entry

/* Common exit; also the first "return" of a new user task, whose kernel
 * stack is prepared as if it had entered through syscall_entry. */
	.globl trap_return
	.type trap_return, @function
trap_return:
	.cfi_startproc simple
	.cfi_signal_frame
	.cfi_def_cfa R_ESP, 76
	.cfi_offset R_EIP, -20
	ESP_RULE_ANY_RING		/* shared by int $0x80 and IRQ0 */
	PUSHA_CFI
	popl %gs
	.cfi_adjust_cfa_offset -4
	popl %fs
	.cfi_adjust_cfa_offset -4
	popl %es
	.cfi_adjust_cfa_offset -4
	popl %ds
	.cfi_adjust_cfa_offset -4
	popal
	.cfi_adjust_cfa_offset -32
	.cfi_same_value R_EAX
	.cfi_same_value R_ECX
	.cfi_same_value R_EDX
	.cfi_same_value R_EBX
	.cfi_same_value R_EBP
	.cfi_same_value R_ESI
	.cfi_same_value R_EDI
	addl $8, %esp			/* vector, error code */
	.cfi_adjust_cfa_offset -8
	iret
	.cfi_endproc
	.size trap_return, . - trap_return

/* Other PIC lines are masked; acknowledge anything spurious and go on. */
	.globl irq_spurious
irq_spurious:
	pushl %eax
	movb $0x20, %al
	outb %al, $0xA0
	outb %al, $0x20
	popl %eax
	iret

/* CPU exceptions: fatal, reported on the serial line. */
.macro EXC n
	.p2align 2
	.if (\n == 8 || (\n >= 10 && \n <= 14) || \n == 17)
	pushl $\n			/* error code already pushed by the CPU */
	.else
	pushl $0
	pushl $\n
	.endif
	jmp exc_common
.endm
	.globl exc_stubs
	.p2align 4
exc_stubs:
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	.p2align 4
	EXC \n
	.endr
exc_common:
	pushal
	pushl %ds
	pushl %es
	pushl %fs
	pushl %gs
	movw $SEL_KDATA, %ax
	movw %ax, %ds
	movw %ax, %es
	pushl %esp
	call exception_handler
1:	cli
	hlt
	jmp 1b

/* void switch_context(uint32_t *save_esp, uint32_t new_esp) */
	.globl switch_context
	.type switch_context, @function
switch_context:
	.cfi_startproc
	movl 4(%esp), %eax
	movl 8(%esp), %edx
	pushl %ebp
	.cfi_adjust_cfa_offset 4
	.cfi_rel_offset R_EBP, 0
	pushl %ebx
	.cfi_adjust_cfa_offset 4
	.cfi_rel_offset R_EBX, 0
	pushl %esi
	.cfi_adjust_cfa_offset 4
	.cfi_rel_offset R_ESI, 0
	pushl %edi
	.cfi_adjust_cfa_offset 4
	.cfi_rel_offset R_EDI, 0
	movl %esp, (%eax)
	movl %edx, %esp			/* the next task's frame: same layout */
	popl %edi
	.cfi_adjust_cfa_offset -4
	.cfi_restore R_EDI
	popl %esi
	.cfi_adjust_cfa_offset -4
	.cfi_restore R_ESI
	popl %ebx
	.cfi_adjust_cfa_offset -4
	.cfi_restore R_EBX
	popl %ebp
	.cfi_adjust_cfa_offset -4
	.cfi_restore R_EBP
	ret
	.cfi_endproc
	.size switch_context, . - switch_context

/* AP start-up trampoline, copied to AP_TRAMP_PHYS (real mode, CS:IP = 0800:0000). */
#define TR(x) (AP_TRAMP_PHYS + (x) - ap_tramp_start)
	.globl ap_tramp_start, ap_tramp_end
	.code16
ap_tramp_start:
	cli
	xorw %ax, %ax
	movw %ax, %ds
	lgdtl TR(ap_gdtr)
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $SEL_KCODE, $TR(ap_pm)
	.code32
ap_pm:
	movw $SEL_KDATA, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movw %ax, %fs
	movw %ax, %gs
	movl $(kernel_pd - KOFF), %eax
	movl %eax, %cr3
	movl %cr0, %eax
	orl $0x80010000, %eax
	movl %eax, %cr0
	movl $ap_high, %eax
	jmp *%eax
	.p2align 2
ap_gdtr:
	.word GDT_ENTRIES * 8 - 1
	.long gdt - KOFF
ap_tramp_end:

ap_high:
	movl ap_stack_top, %esp
	xorl %ebp, %ebp
	call ap_setup			/* descriptor tables, TR */
	pushl $0			/* zero return address: ap_main is the */
	jmp ap_main			/* root frame, as kmain is on the BSP */

	.section .note.GNU-stack, "", @progbits
