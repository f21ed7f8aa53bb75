/* fx.h - test fixture: a freestanding program that captures its own
 * registers and stack at the leaf of a known chain and writes them to
 * stdout.  The dump uses only 64-bit fields so i386 and x86_64 builds
 * agree on the layout (struct qp_sample does not: uint64_t alignment
 * differs on i386); the test turns it into a struct qp_sample. */
#ifndef FX_H
#define FX_H

#include <stdint.h>

#define FX_MAGIC 0x31706d7564786600ull   /* "\0fxdump1" */
#define FX_CODE 64

struct fx_dump {
	uint64_t magic;
	uint64_t wordsize;
	uint64_t ip;
	uint64_t gpr[16];      /* HMP order (enum qp_gpr) */
	uint64_t stack_addr;
	uint64_t stack_len;
	uint8_t code[FX_CODE]; /* bytes at ip */
	/* stack bytes follow */
};

/* Chain, root -> leaf: _start fx_main fx_top fx_mid fx_rec fx_rec fx_rec fx_leaf
 * fx_mid is built without a frame pointer (CFI only). */
int fx_main(void);
int fx_top(void);
int fx_mid(int n);
int fx_rec(int n);
void fx_leaf(void);
void *memcpy(void *d, const void *s, __SIZE_TYPE__ n);
void *memset(void *d, int c, __SIZE_TYPE__ n);

#endif
