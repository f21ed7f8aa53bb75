/* plugin_shm.h - the segment qtop-plugin.so (inside QEMU) shares with
 * qtop-prof: a control block, then one shmring (shmring.h) per vCPU.
 *
 * The plugin creates it as /dev/shm/qtop-plugin-<QEMU pid> (or name=...),
 * mode 0600, and removes it when QEMU exits.  Layout, offsets from the
 * segment start:
 *   0            struct qps_ctl (this header)
 *   ring_off     ring of vCPU 0; ring i at ring_off + i * ring_stride
 *
 * Who writes what: the plugin fills the identity part once, then writes
 * only the plugin_* words, the per-vCPU counters and the rings' producer
 * side; qtop-prof writes only the client_* words, the config and the rings'
 * consumer side.  Control without restart: qtop-prof sets hz and enabled;
 * the plugin's control thread reads them every 10 ms.  Attach: qtop-prof bumps
 * client_beat at least every 100 ms; the plugin arms no vCPU unless
 * client_beat moved in the last QPS_CLIENT_TIMEOUT_MS (so a qtop-prof that
 * died costs nothing after a second).  Liveness of the plugin: plugin_beat
 * moves every tick (<= 100 ms) while QEMU lives; plugin_state is EXITED
 * once QEMU shuts down cleanly.
 */
#ifndef QTOP_PLUGIN_SHM_H
#define QTOP_PLUGIN_SHM_H

#include <stdatomic.h>
#include <stdint.h>
#include "sample.h"

#define QPS_MAGIC        "QTOPPLG\0"
#define QPS_VERSION      4u
#define QPS_MAX_CPUS     64
#define QPS_CLIENT_TIMEOUT_MS 1000
#define QPS_NAME_PREFIX  "qtop-plugin-"      /* + QEMU's pid, in /dev/shm */
#define QPS_BUILD_LEN    64

enum qps_state { QPS_STARTING = 0, QPS_RUNNING = 1, QPS_EXITED = 2 };

/* The --comm recipe of sampler.h, as plain words. */
struct qps_comm {
	uint64_t addr;
	int64_t off[4];
	uint8_t nderef, wordsize, len, valid;
	uint32_t _pad;
};

/* What qtop-prof asks for (written before it sets enabled; the plugin
 * reads it again when cfg_gen changes). */
struct qps_cfg {
	uint32_t stack_bytes;    /* <= ring slot's room */
	uint32_t ustack_bytes;
	uint32_t linux_kstack;   /* 0 or 16384, as sampler_config */
	uint32_t want_code;
	uint64_t cpu_mask;       /* 0 = all */
	uint64_t tss_base[QPS_MAX_CPUS];   /* TR base per vCPU when QEMU does not
					      expose tr_base to plugins; 0 = none */
	struct qps_comm comm[QPS_MAX_CPUS];
};

struct qps_cpu {
	_Alignas(64) _Atomic uint64_t arms;      /* records that came due */
	_Atomic uint64_t samples;                /* records pushed */
	_Atomic uint64_t stack_fail;             /* no stack byte readable */
	_Atomic uint64_t reg_fail;               /* a register read failed: no record */
	_Atomic uint64_t merged;                 /* came due while the last one was
						    still being taken */
	_Atomic uint64_t idle_arms;              /* would have come due while halted */
	_Atomic uint64_t late;                   /* found too late: dropped */
	_Atomic uint64_t irq_stack2;             /* records on a Linux IRQ stack that
						    carry the task stack behind it */
	/* (version 4) time the vCPU thread spent in the plugin's callbacks:
	 * what the guest loses, without the inline counter add per block */
	_Atomic uint64_t cb_ns;                  /* checks that took a record */
	_Atomic uint64_t checks;                 /* checks that took none */
	_Atomic uint64_t check_ns;               /* their time (1 in 16 timed, x16) */
	_Atomic uint64_t tick_ns;                /* timer signal handlers (signal clock) */
};

/* Late records are dropped: a record found more than late_ns after it
 * came due found a vCPU thread that was not running (descheduled by the host,
 * waiting for QEMU's lock); the first block it runs after such a gap is
 * mostly the interrupt that became due meanwhile, so keeping those would
 * pile the gap onto interrupt entries.  What is sampled is the vCPU's
 * running time, at the asked rate. */

struct qps_ctl {
	/* identity: written once by the plugin before QPS_RUNNING.  magic,
	 * version and (from version 2) build stay at these offsets in every
	 * version, so a qtop-prof can name what made a segment it cannot
	 * read. */
	char magic[8];
	uint32_t version;
	uint32_t ctl_bytes;          /* sizeof(struct qps_ctl) */
	char build[QPS_BUILD_LEN];   /* qps_build_id() of the plugin's build */
	uint64_t total_bytes;        /* whole segment */
	int32_t qemu_pid;
	uint32_t ncpus;              /* rings (vCPUs at load) */
	uint64_t qemu_start;         /* /proc/PID/stat starttime: a reused pid is not this QEMU */
	uint64_t ring_off, ring_stride;
	uint32_t slot_size, nslots;
	int32_t api_min, api_cur;    /* QEMU's plugin API versions */
	uint32_t has_cr3, has_tr_base;
	char regset[256];            /* register names found, for diagnostics */

	/* plugin -> qtop-prof */
	_Alignas(64) _Atomic uint64_t plugin_beat;
	_Atomic uint32_t plugin_state;   /* enum qps_state */
	_Atomic uint32_t plugin_armed;   /* 1 while it arms vCPUs (a client is attached) */
	_Atomic uint64_t ticks;
	_Atomic uint64_t resets;         /* instrumentation switched (attach, detach) */
	_Atomic uint32_t clock;          /* what clocks the samples: 1 timer signals,
					    2 block counting (0: not yet sampling) */

	/* qtop-prof -> plugin */
	_Alignas(64) _Atomic uint64_t client_beat;
	_Atomic int32_t client_pid;      /* 0 = none; taken with a CAS */
	_Atomic uint32_t enabled;        /* 1 = sample */
	_Atomic uint32_t hz;             /* per vCPU */
	_Atomic uint32_t cfg_gen;        /* bumped after cfg is written */
	struct qps_cfg cfg;

	struct qps_cpu cpu[QPS_MAX_CPUS];
};

/* The build a plugin and a qtop-prof must share: the layout version and
 * the sizes of everything the two exchange (a layout change that forgot to
 * bump QPS_VERSION still shows), and the compiler that laid them out.
 * Equal strings: the segment can be read; the two need not come from the
 * same commit. */
#include <stdio.h>
#include "shmring.h"
static inline void qps_build_id(char out[QPS_BUILD_LEN])
{
	snprintf(out, QPS_BUILD_LEN, "v%u/ctl%zu/smp%zu/cfg%zu/ring%zu/%s",
		 QPS_VERSION, sizeof(struct qps_ctl), sizeof(struct qp_sample),
		 sizeof(struct qps_cfg), sizeof(struct shmring),
#if defined(__clang__)
		 "clang"
#elif defined(__GNUC__)
		 "gcc"
#else
		 "cc"
#endif
		 );
}

#endif
