/* arch.c - x86_64 specifics: GDT/TSS/IDT, PIC/PIT, user address spaces,
 * task switch, AP start through the local APIC. */
#include "qg.h"

#define KVMA 0xffffffff80000000UL
#define PHYS(v) ((uintptr_t)(v) - KVMA)
#define KV(p) ((void *)((uintptr_t)(p) + KVMA))

#define USER_BASE 0x400000UL
#define USER_SIZE 0x200000UL          /* one 2 MiB page: program + stack */
#define USER_PHYS(slot) (0x1000000UL + (uintptr_t)(slot) * USER_SIZE)
#define KSTACK 16384

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x18
#define SEL_UCODE 0x20
#define SEL_TSS   0x28
#define SEL_TSS_AP 0x38
#define STACK_PAD 64                  /* zero bytes above a kernel-only stack */

struct tss64 {
	uint32_t rsv0;
	uint64_t rsp0, rsp1, rsp2;     /* rsp0 at offset 4 */
	uint64_t rsv1;
	uint64_t ist[7];
	uint64_t rsv2;
	uint16_t rsv3, iomap;
} __attribute__((packed));

struct dtr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

struct gate {
	uint64_t lo, hi;
};

extern char boot_pml4[], boot_stack_top[];
extern char irq0_entry[], syscall_entry[], irq_ignore[], user_enter[];
extern const uint64_t exc_table[32];
extern char ap_tramp_start[], ap_tramp_end[];
extern uint64_t ap_tr_cr3, ap_tr_stack, ap_tr_entry;
void qg_switch(uintptr_t *save_sp, uintptr_t new_sp);
void irq0_c(void);
void exc_c(uint64_t vec, uint64_t err, uint64_t rip);

static struct tss64 tss, ap_tss;
static uint64_t gdt[9];
static struct gate idt[256];
static uintptr_t kernel_cr3;
static uintptr_t kmain_sp;            /* kmain's context while a task runs */
static volatile int ap_up;

/* Physical address of the PVH hvm_start_info (entry.S stores ebx here;
 * .data so that nothing clears it after the store). */
uint64_t qg_pvh_start_info __attribute__((section(".data")));

const char *arch_cmdline(void)
{
	const uint8_t *si;
	uint64_t pa;

	if (!qg_pvh_start_info || qg_pvh_start_info >= 0x40000000UL)
		return 0;
	si = KV(qg_pvh_start_info);
	if (*(const uint32_t *)si != 0x336ec578)   /* XEN_HVM_START_MAGIC_VALUE */
		return 0;
	pa = *(const uint64_t *)(si + 24);         /* cmdline_paddr */
	if (!pa || pa >= 0x40000000UL)
		return 0;
	return KV(pa);
}

static uint64_t upml4[2][512] __attribute__((aligned(4096)));
static uint64_t updpt[2][512] __attribute__((aligned(4096)));
static uint64_t upd[2][512] __attribute__((aligned(4096)));
static uint8_t kstacks[2][KSTACK] __attribute__((aligned(16)));
static uint8_t ap_stack[KSTACK] __attribute__((aligned(16)));

static inline void write_cr3(uintptr_t v)
{ __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline uintptr_t read_cr3(void)
{ uintptr_t v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }

static void set_gate(int vec, const void *fn, uint8_t type_attr)
{
	uint64_t a = (uint64_t)fn;

	idt[vec].lo = (a & 0xffff) | ((uint64_t)SEL_KCODE << 16) |
		      ((uint64_t)type_attr << 40) | (((a >> 16) & 0xffff) << 48);
	idt[vec].hi = a >> 32;
}

static void load_gdt_idt(void)
{
	struct dtr g = { sizeof gdt - 1, (uint64_t)gdt };
	struct dtr i = { sizeof idt - 1, (uint64_t)idt };

	__asm__ volatile("lgdt %0\n\t"
			 "pushq %1\n\t"
			 "leaq 1f(%%rip), %%rax\n\t"
			 "pushq %%rax\n\t"
			 "lretq\n"
			 "1:\n\t"
			 "movw %w2, %%ax\n\t"
			 "movw %%ax, %%ds\n\t"
			 "movw %%ax, %%es\n\t"
			 "movw %%ax, %%ss\n\t"
			 : : "m"(g), "i"(SEL_KCODE), "i"(SEL_KDATA)
			 : "rax", "memory");
	__asm__ volatile("lidt %0" : : "m"(i));
}

static void set_tss_desc(int i, struct tss64 *t)
{
	uint64_t base = (uint64_t)t, limit = sizeof *t - 1;

	gdt[i] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
		 (0x89ULL << 40) | (((limit >> 16) & 0xf) << 48) |
		 (((base >> 24) & 0xff) << 56);
	gdt[i + 1] = base >> 32;
}

void arch_init(void)
{
	int v;

	gdt[1] = 0x00af9a000000ffffULL;     /* kernel code 64 */
	gdt[2] = 0x00cf92000000ffffULL;     /* kernel data */
	gdt[3] = 0x00cff2000000ffffULL;     /* user data, DPL 3 */
	gdt[4] = 0x00affa000000ffffULL;     /* user code 64, DPL 3 */
	set_tss_desc(5, &tss);
	set_tss_desc(7, &ap_tss);
	tss.iomap = sizeof tss;
	tss.rsp0 = (uint64_t)boot_stack_top;
	/* The AP never enters ring 3; its TSS.sp0 still follows the contract
	 * (top of the running task's kernel stack, zero pad above it). */
	ap_tss.iomap = sizeof ap_tss;
	ap_tss.rsp0 = (uint64_t)(ap_stack + KSTACK);
	ap_task.kstack_top = ap_tss.rsp0;
	kernel_task.kstack_top = (uintptr_t)boot_stack_top;

	for (v = 0; v < 32; v++)
		set_gate(v, (const void *)exc_table[v], 0x8e);
	set_gate(32, irq0_entry, 0x8e);
	for (v = 33; v < 48; v++)
		set_gate(v, irq_ignore, 0x8e);
	/* trap gate, DPL 3: callable from ring 3, IRQs stay enabled */
	set_gate(0x80, syscall_entry, 0xef);
	load_gdt_idt();
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS));

	kernel_cr3 = read_cr3();
	kernel_task.cr3 = kernel_cr3;
	ap_task.cr3 = kernel_cr3;

	/* PIC: IRQ0-15 -> vectors 32-47, only IRQ0 unmasked */
	outb(0x20, 0x11); outb(0xa0, 0x11);
	outb(0x21, 32);   outb(0xa1, 40);
	outb(0x21, 4);    outb(0xa1, 2);
	outb(0x21, 1);    outb(0xa1, 1);
	outb(0x21, 0xfe); outb(0xa1, 0xff);
	/* PIT channel 0, rate generator, 100 Hz */
	outb(0x43, 0x34);
	outb(0x40, 11932 & 0xff);
	outb(0x40, 11932 >> 8);
}

void arch_task_create(struct qg_task *t, const char *name, const void *elf,
		      size_t len, int slot)
{
	uint8_t *mem = KV(USER_PHYS(slot));
	uint64_t *ks;
	int i;

	for (i = 0; i < 15 && name[i]; i++)
		t->name[i] = name[i];
	t->name[i] = 0;
	t->entry = elf_load(elf, len, mem, USER_BASE, USER_SIZE);
	if (!t->entry)
		qg_panic("bad user ELF", (uintptr_t)slot, len);

	/* Own address space: the program's 2 MiB page at USER_BASE plus the
	 * kernel's higher half (supervisor only). */
	upd[slot][USER_BASE >> 21] = USER_PHYS(slot) | 0x87;   /* P RW US PS */
	updpt[slot][0] = PHYS(upd[slot]) | 7;
	upml4[slot][0] = PHYS(updpt[slot]) | 7;
	upml4[slot][511] = ((uint64_t *)boot_pml4)[511];
	t->cr3 = PHYS(upml4[slot]);

	/* Zero return address at the user sp: the end of every unwind. */
	t->user_sp = USER_BASE + USER_SIZE - 8;
	*(uint64_t *)(mem + USER_SIZE - 8) = 0;

	/* First switch: qg_switch pops r15..rbx, rbp (= 0), returns to
	 * user_enter, which irets to ring 3. */
	t->kstack_top = (uintptr_t)(kstacks[slot] + KSTACK);
	ks = (uint64_t *)t->kstack_top;
	*--ks = SEL_UDATA | 3;          /* SS */
	*--ks = t->user_sp;             /* RSP */
	*--ks = 0x202;                  /* RFLAGS: IF */
	*--ks = SEL_UCODE | 3;          /* CS */
	*--ks = t->entry;               /* RIP */
	*--ks = (uint64_t)user_enter;
	for (i = 0; i < 6; i++)
		*--ks = 0;
	t->ctx_sp = (uintptr_t)ks;
}

void arch_run_task(struct qg_task *t)
{
	current_task = t;
	cpus[0].proc = t;
	tss.rsp0 = t->kstack_top;
	write_cr3(t->cr3);
	qg_switch(&kmain_sp, t->ctx_sp);
	write_cr3(kernel_cr3);
	tss.rsp0 = kernel_task.kstack_top;
	current_task = &kernel_task;
	cpus[0].proc = &kernel_task;
}

void arch_yield(struct qg_task *t)
{
	qg_switch(&t->ctx_sp, kmain_sp);
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

void irq0_c(void)
{
	qg_timer_tick();
	outb(0x20, 0x20);
}

void exc_c(uint64_t vec, uint64_t err, uint64_t rip)
{
	uintptr_t cr2;

	__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
	serial_puts("qtop-guest: exception ");
	serial_putdec(vec);
	serial_puts(" err=");
	serial_puthex(err);
	serial_puts(" cr2=");
	serial_puthex(cr2);
	qg_panic("rip", rip, read_cr3());
}

/* ---- application processor ---- */

/* Called by the trampoline on the AP's stack; it then enters ap_main with
 * the frame pointer 0, so ap_main is the root of the AP's chains. */
static void ap_setup_c(void)
{
	load_gdt_idt();
	__asm__ volatile("ltr %w0" : : "r"(SEL_TSS_AP));
	ap_up = 1;
}

#define LAPIC ((volatile uint32_t *)0xfee00000UL)
#define ICR_LO (0x300 / 4)
#define ICR_HI (0x310 / 4)

static void lapic_ipi(uint32_t dest, uint32_t cmd)
{
	LAPIC[ICR_HI] = dest << 24;
	LAPIC[ICR_LO] = cmd;
	while (LAPIC[ICR_LO] & (1u << 12))   /* delivery pending */
		;
}

/* Wait n timer ticks (IRQs are on) or until the AP is up. */
static void wait_ticks_or_flag(unsigned n)
{
	unsigned long end = qg_ticks() + n;

	while (qg_ticks() < end && !ap_up)
		;
}

int arch_start_aps(void)
{
	size_t len = (size_t)(ap_tramp_end - ap_tramp_start);

	memcpy(KV(0x8000), ap_tramp_start, len);
	*(uint64_t *)KV(0x8000 + ((char *)&ap_tr_cr3 - ap_tramp_start)) = kernel_cr3;
	*(uint64_t *)KV(0x8000 + ((char *)&ap_tr_stack - ap_tramp_start)) =
		(uint64_t)(ap_stack + KSTACK - STACK_PAD);
	*(uint64_t *)KV(0x8000 + ((char *)&ap_tr_entry - ap_tramp_start)) =
		(uint64_t)ap_setup_c;

	LAPIC[0xf0 / 4] = 0x1ff;             /* software enable */
	lapic_ipi(1, 0x4500);                /* INIT */
	wait_ticks_or_flag(1);
	lapic_ipi(1, 0x4600 | (0x8000 >> 12));   /* SIPI */
	wait_ticks_or_flag(5);
	if (!ap_up) {
		lapic_ipi(1, 0x4600 | (0x8000 >> 12));
		wait_ticks_or_flag(20);
	}
	return ap_up ? 2 : 1;
}
