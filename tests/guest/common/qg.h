/* qg.h - the test guest's shared kernel interface (both arches).
 *
 * Everything here is arch-neutral C; the few arch bits (entry, descriptor
 * tables, paging, task switch, AP start) live in tests/guest/<arch>/ behind
 * the arch_* functions declared below.  See tests/guest/README.md.
 */
#ifndef QG_H
#define QG_H

#include <stddef.h>
#include <stdint.h>
#include "workload.h"

#define QG_NOINLINE __attribute__((noinline))

/* A schedulable context.  name MUST stay the first field: truth.json tells
 * the independent checker and the profiler's --comm that it is at offset 0. */
struct qg_task {
	char name[16];
	uintptr_t ctx_sp;      /* saved kernel sp while switched out (arch) */
	uintptr_t kstack_top;  /* goes into TSS.sp0 while the task runs */
	uintptr_t cr3;         /* address space (physical address of the root) */
	uintptr_t entry;       /* user entry point (user tasks) */
	uintptr_t user_sp;     /* initial user stack pointer */
	int started;
	int pid;               /* task id (truth.json "pid"): --pid
				  'cpus[$cpu].proc->pid' (#15) */
};

/* Updated on every switch; read by the profiler (--comm current_task->name)
 * and by check_split.py. */
extern struct qg_task *volatile current_task;     /* vCPU 0 */
extern struct qg_task *volatile current_task_ap;  /* vCPU 1 */
extern struct qg_task kernel_task, ap_task;

/* The same as an xv6-style per-CPU array (cpus[i].proc, --comm
 * 'cpus[$cpu].proc->name'): set together with current_task and
 * current_task_ap, so the two views always agree. */
struct qg_cpu {
	int id;
	int ncli;
	struct qg_task *volatile proc;
};
extern struct qg_cpu cpus[2];

/* ---- common kernel code (common/kernel.c, work_b.c) ---- */
void kmain(void);                    /* called by the arch entry, rbp/ebp = 0 */
void ap_main(void);                  /* called by the arch AP entry */
void sched_round(void);
long syscall_dispatch(long nr, long arg);  /* from the int $0x80 stub */
void qg_timer_tick(void);            /* from the timer IRQ handler (BSP) */
unsigned long qg_ticks(void);        /* timer ticks since boot (100 Hz) */
void work_b(void);                   /* work_b.c: CFI only, no frame pointer */
void b_inner(void);
void qg_panic(const char *what, uintptr_t a, uintptr_t b);

/* ---- serial (common/serial.c) ---- */
void serial_init(void);
void serial_puts(const char *s);
void serial_putdec(unsigned long v);
void serial_puthex(unsigned long v);

/* ---- libc bits gcc may call (common/lib.c) ---- */
void *memcpy(void *d, const void *s, size_t n);
void *memset(void *d, int c, size_t n);

/* ---- ELF loader (common/elfload.c): ELF32 and ELF64 alike ---- */
/* Copy the PT_LOAD segments of image into dst, which backs user virtual
 * addresses [base, base + size).  Returns the entry point, or 0. */
uintptr_t elf_load(const void *image, size_t len, void *dst, uintptr_t base,
		   size_t size);

/* ---- arch interface (tests/guest/<arch>/) ---- */
void arch_init(void);                /* GDT, IDT, TSS, PIC, PIT */
/* Build task t's address space holding the program image. */
void arch_task_create(struct qg_task *t, const char *name, const void *elf,
		      size_t len, int slot);
void arch_run_task(struct qg_task *t);    /* run t until it yields */
void arch_yield(struct qg_task *t);       /* from t's syscall: back to kmain */
int arch_start_aps(void);                 /* returns the number of CPUs up */
void arch_irq_enable(void);
void arch_halt(void) __attribute__((noreturn));
/* The kernel command line (PVH start_info / multiboot info), or NULL. */
const char *arch_cmdline(void);

/* Embedded user programs (arch blobs.S, .incbin). */
extern const char qg_alpha_elf[], qg_alpha_elf_end[];
extern const char qg_beta_elf[], qg_beta_elf_end[];

static inline void outb(uint16_t port, uint8_t v)
{ __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{ uint8_t v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }

#endif
