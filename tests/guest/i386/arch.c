/* i386 test kernel: descriptor tables, PIC/PIT, paging, user tasks, task
 * switch and AP start-up: the arch_* side of common/qg.h. */
#include "arch.h"
#include "qg.h"

/* ---- GDT, TSS ---- */
struct tss {
	uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
	uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
	uint32_t es, cs, ss, ds, fs, gs, ldt;
	uint16_t trap, iomap;
} __attribute__((packed));

/* tss[0] BSP, tss[1] AP (the AP never leaves ring 0, but a loaded TR lets a
 * sampler read its esp0 like the BSP's). */
struct tss tss[2] __attribute__((aligned(64)));
uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(8)));

static uint64_t seg_desc(uint32_t base, uint32_t limit, uint8_t access,
			 uint8_t flags)
{
	uint64_t d = limit & 0xFFFF;
	d |= (uint64_t)(base & 0xFFFFFF) << 16;
	d |= (uint64_t)access << 40;
	d |= (uint64_t)((limit >> 16) & 0xF) << 48;
	d |= (uint64_t)(flags & 0xF) << 52;
	d |= (uint64_t)(base >> 24) << 56;
	return d;
}

static void gdt_load(void)
{
	struct { uint16_t lim; uint32_t base; } __attribute__((packed)) p = {
		sizeof(gdt) - 1, (uint32_t)(uintptr_t)gdt };
	__asm__ volatile("lgdt %0" : : "m"(p));
	__asm__ volatile("ljmp %0, $1f\n1:" : : "i"(SEL_KCODE));
	__asm__ volatile("movw %w0, %%ds; movw %w0, %%es; movw %w0, %%fs;"
			 "movw %w0, %%gs; movw %w0, %%ss" : : "r"(SEL_KDATA));
}

static void gdt_init(void)
{
	gdt[0] = 0;
	gdt[1] = seg_desc(0, 0xFFFFF, 0x9A, 0xC);	/* kernel code */
	gdt[2] = seg_desc(0, 0xFFFFF, 0x92, 0xC);	/* kernel data */
	gdt[3] = seg_desc(0, 0xFFFFF, 0xFA, 0xC);	/* user code */
	gdt[4] = seg_desc(0, 0xFFFFF, 0xF2, 0xC);	/* user data */
	for (int i = 0; i < 2; i++) {
		tss[i].ss0 = SEL_KDATA;
		tss[i].iomap = sizeof(struct tss);
		gdt[5 + i] = seg_desc((uint32_t)(uintptr_t)&tss[i],
				      sizeof(struct tss) - 1, 0x89, 0x0);
	}
	gdt_load();
}

/* ---- IDT ---- */
static uint64_t idt[256] __attribute__((aligned(8)));
extern char syscall_entry[], irq0_entry[], irq_spurious[], exc_stubs[];

static void idt_set(int v, void *fn, uint8_t type_attr)
{
	uint32_t a = (uint32_t)(uintptr_t)fn;
	idt[v] = (a & 0xFFFF) | ((uint64_t)SEL_KCODE << 16) |
		 ((uint64_t)type_attr << 40) | ((uint64_t)(a >> 16) << 48);
}

static void idt_load(void)
{
	struct { uint16_t lim; uint32_t base; } __attribute__((packed)) p = {
		sizeof(idt) - 1, (uint32_t)(uintptr_t)idt };
	__asm__ volatile("lidt %0" : : "m"(p));
}

static void idt_init(void)
{
	for (int v = 0; v < 32; v++)
		idt_set(v, exc_stubs + 16 * v, 0x8E);
	for (int v = 32; v < 256; v++)
		idt_set(v, irq_spurious, 0x8E);
	idt_set(0x20, irq0_entry, 0x8E);
	/* trap gate, DPL 3: callable from ring 3, keeps IF so the timer
	 * still preempts the kernel part of a system call */
	idt_set(0x80, syscall_entry, 0xEF);
	idt_load();
}

void exception_handler(struct trapframe *tf);
void exception_handler(struct trapframe *tf)
{
	uint32_t cr2;
	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	serial_puts("qtop-guest: exception ");
	serial_putdec(tf->vector);
	serial_puts(" err=");
	serial_puthex(tf->err);
	serial_puts(" eip=");
	serial_puthex(tf->eip);
	serial_puts(" cs=");
	serial_puthex(tf->cs);
	serial_puts(" cr2=");
	serial_puthex(cr2);
	serial_puts("\n");
}

/* ---- PIC, PIT ---- */
static volatile uint32_t ticks;

static void pic_pit_init(void)
{
	outb(0x20, 0x11); outb(0xA0, 0x11);
	outb(0x21, 0x20); outb(0xA1, 0x28);	/* vectors 0x20.. / 0x28.. */
	outb(0x21, 0x04); outb(0xA1, 0x02);
	outb(0x21, 0x01); outb(0xA1, 0x01);
	outb(0x21, 0xFE); outb(0xA1, 0xFF);	/* only IRQ0 */
	uint32_t div = 1193182 / 100;
	outb(0x43, 0x34);
	outb(0x40, (uint8_t)div);
	outb(0x40, (uint8_t)(div >> 8));
}

void i386_timer_irq(struct trapframe *tf);
void i386_timer_irq(struct trapframe *tf)
{
	(void)tf;
	ticks++;
	outb(0x20, 0x20);
	qg_timer_tick();
}

/* ---- kernel command line (multiboot v1 info, flags bit 2) ---- */
/* boot.S stores the physical address of the multiboot info here (.data so
 * that nothing clears it after the store). */
uint32_t qg_mb_info __attribute__((section(".data")));

const char *arch_cmdline(void)
{
	const uint32_t *mbi;

	/* the low 16 MiB are mapped at KOFF */
	if (!qg_mb_info || qg_mb_info >= 0x1000000)
		return 0;
	mbi = P2V(qg_mb_info);
	if (!(mbi[0] & 4) || !mbi[4] || mbi[4] >= 0x1000000)
		return 0;
	return P2V(mbi[4]);
}

/* ---- physical pages and page tables ---- */
extern uint32_t kernel_pd[1024];
extern char _kernel_end[];
static uint32_t next_free_phys;

/* Bump allocator over the 16 MiB mapped at KOFF: pages are contiguous. */
static void *pages_alloc(uint32_t n)
{
	if (next_free_phys + n * 4096 > (16u << 20))
		qg_panic("i386: out of memory", n, next_free_phys);
	void *p = P2V(next_free_phys);
	next_free_phys += n * 4096;
	memset(p, 0, n * 4096);
	return p;
}

static uint32_t *pte_get(uint32_t *pd, uint32_t va, uint32_t pde_flags)
{
	uint32_t *pde = &pd[va >> 22];
	if (!(*pde & PTE_P))
		*pde = V2P(pages_alloc(1)) | pde_flags;
	uint32_t *pt = P2V(*pde & ~0xFFFu);
	return &pt[(va >> 12) & 1023];
}

/* ---- tasks ---- */
extern char boot_stack_top[];
extern char trap_return[];
void switch_context(uintptr_t *save_esp, uintptr_t new_esp);

#define UBASE		0x08048000u	/* both programs are linked here */
#define UIMAGE_SIZE	(64u * 1024)
#define USTACK_TOP	0xBFFF0000u
#define USTACK_SIZE	(16u * 1024)

static void map_user(uint32_t *pd, uint32_t va, void *kva, uint32_t size)
{
	for (uint32_t off = 0; off < size; off += 4096)
		*pte_get(pd, va + off, PTE_P | PTE_W | PTE_U) =
			V2P((char *)kva + off) | PTE_P | PTE_W | PTE_U;
}

void arch_task_create(struct qg_task *t, const char *name, const void *elf,
		      size_t len, int slot)
{
	(void)slot;
	for (int i = 0; i < 15 && name[i]; i++)
		t->name[i] = name[i];

	uint32_t *pd = pages_alloc(1);
	for (int i = 768; i < 1024; i++)	/* shared kernel half */
		pd[i] = kernel_pd[i];
	t->cr3 = V2P(pd);

	void *img = pages_alloc(UIMAGE_SIZE / 4096);
	t->entry = elf_load(elf, len, img, UBASE, UIMAGE_SIZE);
	if (!t->entry)
		qg_panic("i386: bad user ELF", (uintptr_t)elf, len);
	map_user(pd, UBASE, img, UIMAGE_SIZE);
	map_user(pd, USTACK_TOP - USTACK_SIZE,
		 pages_alloc(USTACK_SIZE / 4096), USTACK_SIZE);
	/* _start sees a zero return address at [esp] (fresh zeroed page) and
	 * esp = 12 mod 16, as the i386 ABI has it at a function entry */
	t->user_sp = USTACK_TOP - 4;

	/* Kernel stack: a trap frame to ring 3 at the very top (where the CPU
	 * puts it on int $0x80), under it a switch_context frame returning
	 * into trap_return: as if the task had entered by a system call. */
	uint8_t *ks = pages_alloc(KSTACK_SIZE / 4096);
	t->kstack_top = (uintptr_t)(ks + KSTACK_SIZE);
	struct trapframe *tf = (void *)(ks + KSTACK_SIZE - sizeof(*tf));
	tf->gs = tf->fs = tf->es = tf->ds = SEL_UDATA;
	tf->eip = t->entry;
	tf->cs = SEL_UCODE;
	tf->eflags = 0x202;
	tf->esp = t->user_sp;
	tf->ss = SEL_UDATA;
	uint32_t *sw = (uint32_t *)tf - 5;	/* edi esi ebx ebp ret */
	sw[4] = (uint32_t)(uintptr_t)trap_return;
	t->ctx_sp = (uintptr_t)sw;
}

static void switch_to(struct qg_task *prev, struct qg_task *next)
{
	__asm__ volatile("cli");
	tss[0].esp0 = next->kstack_top;
	if (next->cr3 != prev->cr3)
		__asm__ volatile("mov %0, %%cr3" : : "r"(next->cr3) : "memory");
	current_task = next;
	cpus[0].proc = next;
	switch_context(&prev->ctx_sp, next->ctx_sp);
	__asm__ volatile("sti");
}

void arch_run_task(struct qg_task *t)
{
	t->started = 1;
	switch_to(&kernel_task, t);
}

void arch_yield(struct qg_task *t)
{
	switch_to(t, &kernel_task);
}

void arch_irq_enable(void)
{
	__asm__ volatile("sti");
}

void arch_halt(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* ---- local APIC, AP start-up ---- */
#define LAPIC_BASE 0xFEE00000u
static volatile uint32_t *lapic;
extern char ap_tramp_start[], ap_tramp_end[];
uint32_t ap_stack_top;
static volatile int ap_running;
static uint8_t ap_stack[KSTACK_SIZE] __attribute__((aligned(16)));

static void lapic_write(uint32_t reg, uint32_t v)
{
	lapic[reg / 4] = v;
	(void)lapic[0x20 / 4];
}

static void wait_ticks(uint32_t n)
{
	uint32_t t0 = ticks;
	while (ticks - t0 < n)
		__asm__ volatile("pause");
}

/* Runs on the AP's stack before ap_main (entry.S). */
void ap_setup(void);
void ap_setup(void)
{
	gdt_load();
	idt_load();
	tss[1].esp0 = ap_task.kstack_top;
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS1));
	ap_running = 1;
}

/* Needs interrupts on (waits on PIT ticks). */
int arch_start_aps(void)
{
	uint32_t *pte = pte_get(kernel_pd, LAPIC_BASE, PTE_P | PTE_W);
	*pte = LAPIC_BASE | PTE_P | PTE_W | PTE_PCD | PTE_PWT;
	__asm__ volatile("invlpg (%0)" : : "r"(LAPIC_BASE) : "memory");
	lapic = (volatile uint32_t *)LAPIC_BASE;
	lapic_write(0xF0, lapic[0xF0 / 4] | 0x100);	/* software enable */

	memcpy(P2V(AP_TRAMP_PHYS), ap_tramp_start,
	       (size_t)(ap_tramp_end - ap_tramp_start));
	ap_task.kstack_top = (uintptr_t)(ap_stack + KSTACK_SIZE);
	ap_stack_top = ap_task.kstack_top - BOOT_STACK_PAD;
	ap_task.cr3 = V2P(kernel_pd);

	/* INIT, then SIPIs, to APIC ID 1 only: the design has one AP, and
	 * with -smp > 2 the others must not share its trampoline and stack */
	lapic_write(0x310, 1u << 24);
	lapic_write(0x300, 0x00004500);
	wait_ticks(2);
	for (int i = 0; i < 2 && !ap_running; i++) {
		lapic_write(0x310, 1u << 24);
		lapic_write(0x300, 0x00004600 | (AP_TRAMP_PHYS >> 12));
		wait_ticks(2);
	}
	for (int i = 0; i < 20 && !ap_running; i++)
		wait_ticks(1);
	return ap_running ? 2 : 1;
}

void arch_init(void)
{
	gdt_init();
	idt_init();
	kernel_task.cr3 = V2P(kernel_pd);
	kernel_task.kstack_top = (uintptr_t)boot_stack_top;
	tss[0].esp0 = kernel_task.kstack_top;
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS0));
	next_free_phys = V2P(_kernel_end);
	pic_pit_init();
}
