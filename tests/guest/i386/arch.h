/* i386 test kernel: constants shared by C and assembly. */
#ifndef QG_I386_ARCH_H
#define QG_I386_ARCH_H

#define KOFF		0xC0000000
#define PTE_P		0x001
#define PTE_W		0x002
#define PTE_U		0x004
#define PTE_PWT		0x008
#define PTE_PCD		0x010

#define SEL_KCODE	0x08
#define SEL_KDATA	0x10
#define SEL_UCODE	0x1B
#define SEL_UDATA	0x23
#define SEL_TSS0	0x28
#define SEL_TSS1	0x30

#define KSTACK_SIZE	16384
/* Zeroed words kept above the first frame of a kernel-only stack, so a reader
 * that looks for a ring-3 trap frame below TSS.esp0 finds CS = 0 there. */
#define BOOT_STACK_PAD	64

#define AP_TRAMP_PHYS	0x8000
#define GDT_ENTRIES	7

#ifndef __ASSEMBLER__
#include <stdint.h>
#include <stddef.h>

/* Saved by the interrupt/syscall stubs (entry.S), lowest address first. */
struct trapframe {
	uint32_t gs, fs, es, ds;
	uint32_t edi, esi, ebp, esp_dummy, ebx, edx, ecx, eax;
	uint32_t vector, err;
	uint32_t eip, cs, eflags;
	uint32_t esp, ss;	/* only when coming from ring 3 */
};


#define P2V(pa) ((void *)((uintptr_t)(pa) + KOFF))
#define V2P(va) ((uint32_t)(uintptr_t)(va) - KOFF)
#endif
#endif
