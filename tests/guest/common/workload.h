/* workload.h - the deterministic time split, shared by kernels and user
 * programs of both arches.  tests/guest/truth.json documents the same
 * numbers; change both together.
 */
#ifndef QG_WORKLOAD_H
#define QG_WORKLOAD_H

/* Spin iterations per weight point.  One BSP round is 100 points; calibrated
 * so that a round takes ~20-50 ms under TCG on this machine. */
#define QG_UNIT 50000UL   /* ~30 rounds/s on an idle 2-core host */

/* vCPU 0, per round (sum 100) */
#define QG_W_A_INNER     20  /* kmain > sched_round > work_a > a_inner */
#define QG_W_B_INNER     15  /* kmain > sched_round > work_b (CFI only) > b_inner */
#define QG_W_REC_LEAF    10  /* kmain > sched_round > recurse x5 > rec_leaf */
#define QG_W_ALPHA_HOT   20  /* alpha: _start > main > alpha_loop > alpha_hot */
#define QG_W_BETA_HOT    15  /* beta: ... > beta_loop > beta_mid > beta_hot */
#define QG_W_K_SPIN      20  /* beta: ... > sys_spin > [kernel] ... > k_spin_inner */
/* vCPU 1, per round (sum 100) */
#define QG_W_AP_X        60
#define QG_W_AP_Y        40

#define QG_REC_DEPTH     5   /* nested calls of recurse() */
/* Command line "deep" (benchmark only, not in truth.json): every kernel
 * chain runs below QG_DEEP_PAD nested calls of deep_pad() -- kmain > deep_pad
 * x20 > sched_round > ..., syscall_dispatch > deep_pad x20 > ksys_spin > ...,
 * ap_main > deep_pad x20 > ap_work > ... -- so kernel stacks are as deep as a
 * real kernel's (24-28 frames).  Same leaves and weights. */
#define QG_DEEP_PAD      20

/* int $0x80: number in eax/rax, argument in ebx/rbx, result in eax/rax */
#define QG_SYS_YIELD 1
#define QG_SYS_SPIN  2       /* arg: iterations to spin in the kernel */

/* The one loop body every hot leaf spins in; same instructions on i386 and
 * x86_64 (the register width follows long), n >= 1.  The back edge is an
 * indirect jump so every iteration leaves the translation block and QEMU's
 * TCG stores the guest pc: samples see an exact RIP/EIP even if a QEMU
 * version defers the pc update across chained blocks.  (On QEMU 7.2 a plain
 * "dec; jnz" loop measured the same split, so this is a safety margin.)
 * The volatile local makes the leaf touch its stack: gcc 12 drops the frame
 * of a leaf that does not, even with -mno-omit-leaf-frame-pointer, and then
 * a frame-pointer walk would skip the leaf's caller. */
#define QG_SPIN(n) do {                                              \
	volatile unsigned long qg_v_ = (n);                          \
	unsigned long qg_n_ = qg_v_, qg_t_;                          \
	__asm__ volatile("mov $1f, %1\n\t"                           \
			 ".p2align 4\n"                              \
			 "1:\n\t"                                    \
			 "dec %0\n\t"                                \
			 "jz 2f\n\t"                                 \
			 "jmp *%1\n"                                 \
			 "2:"                                        \
			 : "+r"(qg_n_), "=&r"(qg_t_) : : "cc", "memory"); \
} while (0)

#endif
