/* qemu_plugin_api.h - the part of QEMU's TCG plugin API qtop-plugin.so uses.
 *
 * Debian packages no qemu-plugin.h, so these declarations are written here
 * from the documented API (QEMU's include/qemu/qemu-plugin.h and
 * docs/devel/tcg-plugins.rst), plugin API version 4 as in QEMU 10.0:
 *   - conditional block callbacks on a scoreboard entry (since 9.1),
 *   - inline per-vCPU scoreboard adds on block entry (since 9.0),
 *   - qemu_plugin_get_registers / qemu_plugin_read_register (since 9.0),
 *   - qemu_plugin_read_memory_vaddr (version 4).
 * Only what we call is declared; the symbols are resolved in QEMU's binary
 * when it dlopens the plugin.  Types must match QEMU's ABI exactly.
 */
#ifndef QTOP_QEMU_PLUGIN_API_H
#define QTOP_QEMU_PLUGIN_API_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QEMU_PLUGIN_EXPORT __attribute__((visibility("default")))
/* Weak: a QEMU that lacks one of them still loads the .so far enough to
 * say which API version it has (its own check, or ours in
 * qemu_plugin_install), instead of "undefined symbol". */
#define QAPI __attribute__((weak))

/* The version we are written against; QEMU refuses a plugin whose
 * qemu_plugin_version is outside its [min, cur]. */
#define QTOP_PLUGIN_API_VERSION 4

typedef uint64_t qemu_plugin_id_t;

typedef struct qemu_info_t {
	const char *target_name;
	struct {
		int min;
		int cur;
	} version;
	bool system_emulation;
	union {
		struct {
			int smp_vcpus;
			int max_vcpus;
		} system;
	};
} qemu_info_t;

extern QEMU_PLUGIN_EXPORT int qemu_plugin_version;
QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
					   int argc, char **argv);

typedef void (*qemu_plugin_simple_cb_t)(qemu_plugin_id_t id);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);
typedef void (*qemu_plugin_vcpu_simple_cb_t)(qemu_plugin_id_t id, unsigned int vcpu_index);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);

struct qemu_plugin_tb;
struct qemu_plugin_scoreboard;
struct qemu_plugin_register;

typedef struct {
	struct qemu_plugin_scoreboard *score;
	size_t offset;
} qemu_plugin_u64;

enum qemu_plugin_cb_flags {
	QEMU_PLUGIN_CB_NO_REGS,
	QEMU_PLUGIN_CB_R_REGS,
	QEMU_PLUGIN_CB_RW_REGS,
};

enum qemu_plugin_cond {
	QEMU_PLUGIN_COND_NEVER,
	QEMU_PLUGIN_COND_ALWAYS,
	QEMU_PLUGIN_COND_EQ,
	QEMU_PLUGIN_COND_NE,
	QEMU_PLUGIN_COND_LT,
	QEMU_PLUGIN_COND_LE,
	QEMU_PLUGIN_COND_GT,
	QEMU_PLUGIN_COND_GE,
};

typedef struct {
	struct qemu_plugin_register *handle;
	const char *name;
	const char *feature;
} qemu_plugin_reg_descriptor;

typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id,
					       struct qemu_plugin_tb *tb);

QAPI void qemu_plugin_register_vcpu_init_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_simple_cb_t cb);
QAPI void qemu_plugin_register_vcpu_exit_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_simple_cb_t cb);
QAPI void qemu_plugin_register_vcpu_idle_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_simple_cb_t cb);
QAPI void qemu_plugin_register_vcpu_resume_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_simple_cb_t cb);
QAPI void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
QAPI void qemu_plugin_register_vcpu_tb_exec_cond_cb(struct qemu_plugin_tb *tb,
					       qemu_plugin_vcpu_udata_cb_t cb,
					       enum qemu_plugin_cb_flags flags,
					       enum qemu_plugin_cond cond,
					       qemu_plugin_u64 entry, uint64_t imm,
					       void *userdata);
enum qemu_plugin_op {
	QEMU_PLUGIN_INLINE_ADD_U64,
	QEMU_PLUGIN_INLINE_STORE_U64,
};
QAPI void qemu_plugin_register_vcpu_tb_exec_inline_per_vcpu(struct qemu_plugin_tb *tb,
						       enum qemu_plugin_op op,
						       qemu_plugin_u64 entry, uint64_t imm);
QAPI void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb,
				    void *userdata);
QAPI void qemu_plugin_outs(const char *string);
/* Unregisters every callback of the plugin and flushes the translated
 * code (all vCPUs out of it), then calls cb; from a vCPU callback only. */
QAPI void qemu_plugin_reset(qemu_plugin_id_t id, qemu_plugin_simple_cb_t cb);
/* Only valid in a vCPU context (init callback). */
QAPI GArray *qemu_plugin_get_registers(void);
/* Version 4: size of the register read (-1 on failure); later versions
 * return bool.  Either way > 0 is success: we read buf->len. */
QAPI int qemu_plugin_read_register(struct qemu_plugin_register *handle, GByteArray *buf);
QAPI bool qemu_plugin_read_memory_vaddr(uint64_t addr, GByteArray *data, size_t len);
QAPI struct qemu_plugin_scoreboard *qemu_plugin_scoreboard_new(size_t element_size);
QAPI void qemu_plugin_scoreboard_free(struct qemu_plugin_scoreboard *score);
QAPI void qemu_plugin_u64_set(qemu_plugin_u64 entry, unsigned int vcpu_index, uint64_t val);
QAPI uint64_t qemu_plugin_u64_get(qemu_plugin_u64 entry, unsigned int vcpu_index);

#endif
