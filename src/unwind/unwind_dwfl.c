/* unwind_dwfl.c - CFI unwinding of copied stacks with libdwfl attach state.
 *
 * One persistent Dwfl per binary (a new Dwfl per sample costs 15-83 us,
 * a persistent one 3-5 us per stack).  Frames whose CFI row is just the
 * frame-pointer rule (or that have no CFI) take our own validated FP step,
 * ~20x cheaper; the others are stepped by libdwfl (CFI from .eh_frame /
 * .debug_frame), which hands back at the next FP frame.  When a libdwfl
 * step fails we take one FP step ourselves and restart it from there, so
 * CFI and frame pointers combine per frame (and i386, whose libdwfl
 * fallback is broken in 0.188, still walks). */
#include "unwind.h"
#include "elffile.h"
#include "errmsg.h"

#include <dwarf.h>
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum stop_reason { SR_NONE, SR_BEYOND, SR_DEPTH, SR_BAD, SR_HANDOFF };

/* Per-pc answer to "is one frame-pointer step exact here?": yes when the CFI
 * row says CFA = fp + 2 words, return address at CFA - 1 word, saved fp at
 * CFA - 2 words (any function past its prologue), and also when there is no
 * CFI at all (libdwfl would only run its own frame-pointer fallback).  Such
 * frames are stepped by our walker, ~20x cheaper than a libdwfl step. */
#define FPC_BITS 12
#define FPC_SIZE (1u << FPC_BITS)
struct fpc_ent {
	uint64_t pc;
	uint8_t used, fp_ok;
};

struct uw_dwfl {
	Dwfl *dwfl;
	Dwfl_Module *mod;
	char *path;
	int fd;                  /* the caller's, while reporting: libdwfl
				    gets dups of it */
	Dwfl_Callbacks cbs;
	int elfclass;
	int attached;
	/* per walk */
	const struct uw_walk *w;
	struct uw_state init;
	const uint64_t *regs;
	struct uw_frame *out;
	int max;
	struct uw_result *res;
	int skip_first;          /* first frame of a restart is already out */
	int seen;                /* frames seen in this libdwfl run */
	int mem_fail;            /* a read missed the copies since the last frame */
	enum stop_reason stop;
	struct fpc_ent *fpc;     /* lookup pc -> frame-pointer rule applies */
	unsigned nfpc;
};

static int find_elf_cb(Dwfl_Module *mod, void **userdata, const char *modname,
		       Dwarf_Addr base, char **file_name, Elf **elfp)
{
	const struct uw_dwfl *d = *userdata;
	if (!d)
		return -1;
	int fd = dup(d->fd);
	if (fd >= 0)
		*file_name = strdup(d->path);
	return fd;
}

/* A candidate debug file: open, and (when the module has a build-id)
 * carrying the same one, as libdwfl validates its own candidates.  The
 * fd, or -1. */
static int try_debug(Dwfl_Module *mod, const char *path, char **out)
{
	const unsigned char *bits = NULL;
	GElf_Addr vaddr;
	int nbits = dwfl_module_build_id(mod, &bits, &vaddr);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (nbits > 0) {
		char want[2 * 64 + 1] = "", got[2 * 64 + 1] = "";
		for (int i = 0; i < nbits && i < 64; i++)
			snprintf(want + 2 * i, 3, "%02x", bits[i]);
		Elf *e = elf_begin(fd, ELF_C_READ, NULL);
		int ok = e && elffile_build_id(e, got, sizeof got) == 0 &&
			 !strcmp(want, got);
		if (e)
			elf_end(e);
		if (!ok) {
			close(fd);
			return -1;
		}
	}
	*out = strdup(path);
	return fd;
}

/* libdwfl's standard search for separate debug info, less the candidate
 * that is the file itself: that file is open already (its DWARF, if any,
 * was looked at), so it is not opened a second time.  Without a
 * .gnu_debuglink libdwfl tries NAME.debug and NAME in the file's
 * directory, its .debug/ and under /usr/lib/debug; here NAME.debug through
 * libdwfl (build-id, path, debuginfod), then NAME in .debug/ and under
 * /usr/lib/debug/DIR for each tail DIR of the file's directory. */
static int find_debuginfo_cb(Dwfl_Module *mod, void **userdata,
			     const char *modname, Dwarf_Addr base,
			     const char *file_name, const char *debuglink_file,
			     GElf_Word crc, char **debuginfo_file_name)
{
	const char *b = file_name ? strrchr(file_name, '/') : NULL;
	char alt[4096], dir[4096];

	if (debuglink_file || !b)
		return dwfl_standard_find_debuginfo(mod, userdata, modname, base,
						    file_name, debuglink_file,
						    crc, debuginfo_file_name);
	snprintf(alt, sizeof alt, "%s.debug", b + 1);
	int fd = dwfl_standard_find_debuginfo(mod, userdata, modname, base,
					      file_name, alt, crc,
					      debuginfo_file_name);
	if (fd >= 0)
		return fd;
	if (snprintf(dir, sizeof dir, "%.*s", (int)(b - file_name),
		     file_name) >= (int)sizeof dir)
		return -1;
	if (snprintf(alt, sizeof alt, "%s/.debug/%s", dir, b + 1) <
	    (int)sizeof alt && (fd = try_debug(mod, alt,
					      debuginfo_file_name)) >= 0)
		return fd;
	for (const char *sub = dir; sub && dir[0] == '/';
	     sub = strchr(sub + 1, '/')) {
		if (snprintf(alt, sizeof alt, "/usr/lib/debug%s/%s", sub,
			     b + 1) < (int)sizeof alt &&
		    (fd = try_debug(mod, alt, debuginfo_file_name)) >= 0)
			return fd;
	}
	if (snprintf(alt, sizeof alt, "/usr/lib/debug/%s", b + 1) >=
	    (int)sizeof alt)
		return -1;
	return try_debug(mod, alt, debuginfo_file_name);
}

static pid_t next_thread_cb(Dwfl *dwfl, void *arg, void **thread_argp)
{
	if (*thread_argp)
		return 0;
	*thread_argp = arg;
	return 1;
}

static bool get_thread_cb(Dwfl *dwfl, pid_t tid, void *arg, void **thread_argp)
{
	*thread_argp = arg;
	return tid == 1;
}

static bool memory_read_cb(Dwfl *dwfl, Dwarf_Addr addr, Dwarf_Word *result,
			   void *arg)
{
	struct uw_dwfl *d = arg;
	uint64_t v;
	int ws = d->elfclass == ELFCLASS32 ? 4 : 8;
	if (!d->w || uw_read_word(d->w->mem, d->w->nmem, ws, addr, &v) < 0) {
		d->mem_fail = 1;
		return false;
	}
	*result = v;
	return true;
}

/* DWARF register number -> index in the HMP order of struct qp_regs. */
static const int x64_map[16] = { 0, 3, 2, 1, 4, 5, 6, 7,
				 8, 9, 10, 11, 12, 13, 14, 15 };
static const int x86_map[8] = { 0, 2, 3, 1, 7, 6, 4, 5 };

static bool set_initial_registers_cb(Dwfl_Thread *thread, void *arg)
{
	struct uw_dwfl *d = arg;
	Dwarf_Word r[16];
	int is64 = d->elfclass != ELFCLASS32;
	int n = is64 ? 16 : 8, spr = is64 ? 7 : 4, fpr = is64 ? 6 : 5;
	if (d->regs) {
		for (int i = 0; i < n; i++)
			r[i] = d->regs[is64 ? x64_map[i] : x86_map[i]] &
			       (is64 ? ~0ull : 0xffffffffull);
		r[spr] = d->init.sp;
		r[fpr] = d->init.fp;
		if (!dwfl_thread_state_registers(thread, 0, n, r))
			return false;
	} else {
		/* only sp and fp are known: leave the rest undefined */
		r[0] = d->init.fp;
		r[1] = d->init.sp;
		if (is64) {
			if (!dwfl_thread_state_registers(thread, 6, 2, r))
				return false;
		} else {
			r[0] = d->init.sp;
			r[1] = d->init.fp;
			if (!dwfl_thread_state_registers(thread, 4, 2, r))
				return false;
		}
	}
	dwfl_thread_state_register_pc(thread, d->init.pc);
	return true;
}

static const Dwfl_Thread_Callbacks thread_cbs = {
	.next_thread = next_thread_cb,
	.get_thread = get_thread_cb,
	.memory_read = memory_read_cb,
	.set_initial_registers = set_initial_registers_cb,
};

static int elf_info(Elf *e, const char *path, int *cls, int *type,
		    uint64_t *lo, uint64_t *hi, char *err, size_t errlen)
{
	GElf_Ehdr eh;
	if (!e || !gelf_getehdr(e, &eh)) {
		seterr(err, errlen, "%s: not an ELF file", path);
		return -1;
	}
	*cls = eh.e_ident[EI_CLASS];
	*type = eh.e_type;
	*lo = UINT64_MAX;
	*hi = 0;
	size_t np = 0;
	elf_getphdrnum(e, &np);
	for (size_t i = 0; i < np; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (ph.p_vaddr < *lo)
			*lo = ph.p_vaddr;
		if (ph.p_vaddr + ph.p_memsz > *hi)
			*hi = ph.p_vaddr + ph.p_memsz;
	}
	if (*lo >= *hi) {
		seterr(err, errlen, "%s: no loadable segments", path);
		return -1;
	}
	return 0;
}

struct uw_dwfl *uw_dwfl_new(const char *path, const char *modname,
			    int64_t bias, char *err, size_t errlen)
{
	struct elffile *f = elffile_map(path, err, errlen);
	if (!f)
		return NULL;
	struct uw_dwfl *d = uw_dwfl_new_file(f, modname, bias, err, errlen);
	elffile_unmap(f);   /* libdwfl keeps its own dup of the fd */
	return d;
}

struct uw_dwfl *uw_dwfl_new_file(const struct elffile *f, const char *modname,
				 int64_t bias, char *err, size_t errlen)
{
	const char *path = f->path;
	int cls, type;
	uint64_t lo, hi;
	if (elf_info(f->elf, path, &cls, &type, &lo, &hi, err, errlen) < 0)
		return NULL;
	struct uw_dwfl *d = calloc(1, sizeof *d);
	if (!d || !(d->path = strdup(path))) {
		free(d);
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	d->fd = f->fd;
	d->elfclass = cls;
	d->cbs = (Dwfl_Callbacks){
		.find_elf = find_elf_cb,
		.find_debuginfo = find_debuginfo_cb,
		.section_address = dwfl_offline_section_address,
	};
	d->fpc = calloc(FPC_SIZE, sizeof *d->fpc);
	if (!d->fpc)
		goto dwerr;
	d->dwfl = dwfl_begin(&d->cbs);
	if (!d->dwfl)
		goto dwerr;
	dwfl_report_begin(d->dwfl);
	if (type == ET_EXEC && bias) {
		/* dwfl_report_elf ignores base for ET_EXEC: report the slid
		 * range and hand the file over in find_elf */
		d->mod = dwfl_report_module(d->dwfl, modname, lo + (uint64_t)bias,
					    hi + (uint64_t)bias);
	} else {
		/* libdwfl owns (and closes) the fd it is given: a dup */
		int fd = dup(d->fd);
		d->mod = fd < 0 ? NULL
			: dwfl_report_elf(d->dwfl, modname, path, fd,
					  (Dwarf_Addr)bias, type == ET_DYN);
		if (!d->mod && fd >= 0)
			close(fd);
	}
	if (d->mod) {
		/* find_elf_cb and find_debuginfo_cb get d */
		void **ud = NULL;
		dwfl_module_info(d->mod, &ud, NULL, NULL, NULL, NULL, NULL,
				 NULL);
		if (ud)
			*ud = d;
	}
	if (!d->mod || dwfl_report_end(d->dwfl, NULL, NULL) != 0)
		goto dwerr;
	Dwarf_Addr mbias;
	if (!dwfl_module_getelf(d->mod, &mbias))
		goto dwerr;
	d->fd = -1;   /* libdwfl has its own now; the caller's may close */
	if (!dwfl_attach_state(d->dwfl, NULL, 1, &thread_cbs, d))
		goto dwerr;
	d->attached = 1;
	return d;
dwerr:
	seterr(err, errlen, "%s: libdwfl: %s", path, dwfl_errmsg(-1));
	uw_dwfl_free(d);
	return NULL;
}

void uw_dwfl_free(struct uw_dwfl *d)
{
	if (!d)
		return;
	if (d->dwfl)
		dwfl_end(d->dwfl);
	free(d->fpc);
	free(d->path);
	free(d);
}

void *uw_dwfl_handle(struct uw_dwfl *d)
{
	return d ? d->dwfl : NULL;
}

void *uw_dwfl_module(struct uw_dwfl *d)
{
	return d ? d->mod : NULL;
}

static int row_is_fp(Dwarf_Frame *fr, int ws, int fpreg, int rareg)
{
	Dwarf_Op *ops, mem[3];
	size_t n;
	if (dwarf_frame_cfa(fr, &ops, &n) != 0 || n != 1)
		return 0;
	int cfa_ok = (ops[0].atom == DW_OP_bregx && ops[0].number == (Dwarf_Word)fpreg &&
		      (int64_t)ops[0].number2 == 2 * ws) ||
		     (ops[0].atom == DW_OP_breg0 + fpreg &&
		      (int64_t)ops[0].number == 2 * ws);
	if (!cfa_ok)
		return 0;
	int regs[2] = { rareg, fpreg }, offs[2] = { -ws, -2 * ws };
	for (int i = 0; i < 2; i++) {
		if (dwarf_frame_register(fr, regs[i], mem, &ops, &n) != 0 || n != 2 ||
		    ops[0].atom != DW_OP_call_frame_cfa ||
		    ops[1].atom != DW_OP_plus_uconst ||
		    (int64_t)ops[1].number != offs[i])
			return 0;
	}
	return 1;
}

static int fp_rule(struct uw_dwfl *d, uint64_t pc)
{
	unsigned h = (unsigned)((pc * 0x9e3779b97f4a7c15ull) >> (64 - FPC_BITS));
	for (;; h = (h + 1) & (FPC_SIZE - 1)) {
		struct fpc_ent *e = &d->fpc[h];
		if (!e->used)
			break;
		if (e->pc == pc)
			return e->fp_ok;
	}
	if (d->nfpc >= FPC_SIZE / 2) {
		memset(d->fpc, 0, FPC_SIZE * sizeof *d->fpc);
		d->nfpc = 0;
		h = (unsigned)((pc * 0x9e3779b97f4a7c15ull) >> (64 - FPC_BITS));
	}
	int ws = d->elfclass == ELFCLASS32 ? 4 : 8;
	int fpreg = ws == 8 ? 6 : 5, rareg = ws == 8 ? 16 : 8;
	int ok = 1;                     /* no CFI: frame pointers it is */
	Dwarf_Addr bias;
	Dwarf_CFI *cfi[2] = { dwfl_module_eh_cfi(d->mod, &bias), NULL };
	Dwarf_Addr b2;
	cfi[1] = dwfl_module_dwarf_cfi(d->mod, &b2);
	Dwarf_Addr biases[2] = { bias, b2 };
	for (int i = 0; i < 2; i++) {
		Dwarf_Frame *fr;
		if (cfi[i] && dwarf_cfi_addrframe(cfi[i], pc - biases[i], &fr) == 0) {
			ok = row_is_fp(fr, ws, fpreg, rareg);
			free(fr);
			break;
		}
	}
	struct fpc_ent *e = &d->fpc[h];
	while (e->used)
		e = &d->fpc[h = (h + 1) & (FPC_SIZE - 1)];
	*e = (struct fpc_ent){ pc, 1, (uint8_t)ok };
	d->nfpc++;
	return ok;
}

static int frame_cb(Dwfl_Frame *state, void *arg)
{
	struct uw_dwfl *d = arg;
	struct uw_result *res = d->res;
	Dwarf_Addr pc;
	bool isact;
	if (!dwfl_frame_pc(state, &pc, &isact))
		return DWARF_CB_ABORT;
	/* the first frame is the state we set, already delivered */
	if (d->seen++ == 0 && d->skip_first) {
		d->mem_fail = 0;
		return DWARF_CB_OK;
	}
	int is64 = d->elfclass != ELFCLASS32;
	Dwarf_Word sp = 0, fp = 0;
	int have_sp = dwfl_frame_reg(state, is64 ? 7 : 4, &sp) == 0;
	if (dwfl_frame_reg(state, is64 ? 6 : 5, &fp) != 0)
		fp = 0;
	if (!is64) {
		sp &= 0xffffffffu;
		fp &= 0xffffffffu;
		pc &= 0xffffffffu;
	}
	res->cfi_steps++;
	if (!have_sp) {
		d->stop = SR_BAD;
		return DWARF_CB_ABORT;
	}
	uint64_t look = isact ? pc : pc - 1;
	if ((d->w->stop_sp && sp > d->w->stop_sp) ||
	    !d->w->is_text(d->w->ctx, look)) {
		/* past the kernel trap frame: user mode; anywhere else a
		 * pc outside text is garbage */
		res->beyond_valid = 1;
		res->beyond = (struct uw_state){ pc, sp, fp };
		d->stop = d->w->stop_sp ? SR_BEYOND : SR_BAD;
		return DWARF_CB_ABORT;
	}
	if (res->n && sp < d->out[res->n - 1].sp) {
		d->stop = SR_BAD;              /* stack grows down: sp only rises */
		return DWARF_CB_ABORT;
	}
	if (res->n && sp == d->out[res->n - 1].sp &&
	    pc == d->out[res->n - 1].pc) {
		d->stop = SR_BAD;              /* no progress: a loop */
		return DWARF_CB_ABORT;
	}
	if (res->n >= d->max) {
		d->stop = SR_DEPTH;
		return DWARF_CB_ABORT;
	}
	d->out[res->n++] = (struct uw_frame){ pc, sp, fp, (uint8_t)isact };
	d->mem_fail = 0;
	if (fp_rule(d, look)) {
		d->stop = SR_HANDOFF;          /* our walker takes it from here */
		return DWARF_CB_ABORT;
	}
	return DWARF_CB_OK;
}

void uw_dwfl_walk(struct uw_dwfl *d, const struct uw_walk *w,
		  const struct uw_state *st, const uint64_t *regs,
		  struct uw_frame *out, int max, struct uw_result *res)
{
	memset(res, 0, sizeof *res);
	if (max <= 0) {
		res->end = UW_END_DEPTH;
		return;
	}
	if (!w->is_text(w->ctx, st->pc)) {
		res->end = UW_END_FAIL;
		return;
	}
	d->w = w;
	d->out = out;
	d->max = max;
	d->res = res;
	d->regs = regs;
	d->init = *st;
	out[0] = (struct uw_frame){ st->pc, st->sp, st->fp, 1 };
	res->n = 1;
	for (;;) {
		struct uw_frame *lf = &out[res->n - 1];
		struct uw_state ls = { lf->pc, lf->sp, lf->fp }, nx;
		int r;
		if (fp_rule(d, lf->isact ? lf->pc : lf->pc - 1)) {
			/* frame pointers are exact here (or all there is);
			 * frame 0 at a function entry reads [sp] */
			r = uw_fp_step(w, res->n - 1, &ls, &nx);
			if (r == 0) {
				res->end = UW_END_OK;
				break;
			}
		} else {
			d->init = ls;
			/* a return address may sit past the end of a noreturn
			 * call's function: look its CFI up inside the call */
			if (!lf->isact)
				d->init.pc = ls.pc - 1;
			d->skip_first = 1;
			d->seen = 0;
			d->mem_fail = 0;
			d->stop = SR_NONE;
			int rc = dwfl_getthread_frames(d->dwfl, 1, frame_cb, d);
			if (d->stop == SR_HANDOFF) {
				d->regs = NULL;
				continue;
			}
			if (d->stop == SR_BEYOND) {
				res->end = UW_END_OK;
				break;
			}
			if (d->stop == SR_DEPTH) {
				res->end = UW_END_DEPTH;
				break;
			}
			/* libdwfl could not step from the last frame: one FP
			 * step */
			lf = &out[res->n - 1];
			ls = (struct uw_state){ lf->pc, lf->sp, lf->fp };
			r = uw_fp_step(w, res->n - 1, &ls, &nx);
			/* libdwfl also ends "cleanly" (pc undefined) when
			 * registers it needed were outside the copy, sometimes
			 * without even asking for them: take its end as the
			 * outermost frame only when the frame pointers agree or
			 * cannot tell (not a missing read) */
			if (d->stop == SR_NONE && rc == 0 && !d->mem_fail &&
			    (r == 0 || r == -1)) {
				res->end = UW_END_OK;
				break;
			}
			if (r == 0) {
				res->end = UW_END_OK;
				break;
			}
		}
		if (r < 0 || nx.sp < ls.sp) {
			res->end = UW_END_FAIL;
			break;
		}
		if (!uw_fp_accept(w, &nx, out, max, res))
			break;
		d->regs = NULL;   /* only sp/fp/pc known past an FP step */
	}
	d->w = NULL;
	d->regs = NULL;
}
