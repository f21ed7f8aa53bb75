/* fxload.h - run a fixture program and turn its dump into samples. */
#ifndef FXLOAD_H
#define FXLOAD_H

#include <stddef.h>
#include <stdint.h>
#include "sample.h"
#include "fx.h"

struct fx_capture {
	struct fx_dump d;
	uint8_t *stack;          /* d.stack_len bytes */
};

/* Run the fixture at path; exits the test with a message on failure. */
void fx_run(const char *path, struct fx_capture *c);

struct fx_sample_opts {
	uint64_t cr3;
	int cpl;                 /* 3 user, 0 kernel */
	const uint8_t *stack; uint64_t stack_addr; uint32_t stack_len;
	const uint8_t *ustack; uint64_t ustack_addr; uint32_t ustack_len;
	const uint8_t *code; uint64_t code_addr; uint32_t code_len;
	const char *comm;
	uint64_t trap_addr;
	uint32_t flags;
};

/* A user-mode sample from a capture (regs, stack, code bytes). */
struct qp_sample *fx_sample(const struct fx_capture *c, uint64_t cr3);
/* A sample built from parts; regs from c. */
struct qp_sample *fx_sample_ex(const struct fx_capture *c,
			       const struct fx_sample_opts *o);

/* "proc;f1;...;leaf" of a frame list into buf. */
void fx_join(const void *frames, size_t n, char *buf, size_t len);

/* A temporary sysroot with symlinks to the given programs. */
void fx_sysroot(char *dir, size_t len, const char *const *progs, int n);
void fx_rmtree(const char *dir);

#endif
