/* fxload.c - see fxload.h. */
#include "fxload.h"
#include "profile.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *msg, const char *arg)
{
	fprintf(stderr, "FAIL: %s %s\n", msg, arg ? arg : "");
	exit(1);
}

/* i386 fixtures on a host whose kernel cannot exec 32-bit programs
 * (IA32 emulation off: "Exec format error") run under user-mode emulation;
 * QTOP_FX_EXEC=qemu forces that path so it is tested on every host. */
static const char *fx_emulator(void)
{
	return "qemu-i386";
}

static int fx_is_elf32(const char *path)
{
	unsigned char id[5] = { 0 };
	FILE *f = fopen(path, "rb");
	if (!f)
		return 0;
	size_t n = fread(id, 1, sizeof id, f);
	fclose(f);
	return n == sizeof id && id[4] == 1;   /* EI_CLASS == ELFCLASS32 */
}

static void fx_exec_emulated(const char *path, const char *why)
{
	const char *emu = fx_emulator();
	fprintf(stderr, "fixture %s: %s: running it under %s\n", path, why, emu);
	execlp(emu, emu, path, (char *)NULL);
	fprintf(stderr, "FAIL: cannot run %s (%s): install qemu-user "
		"(scripts/setup.sh does)\n", emu, strerror(errno));
	_exit(127);
}

void fx_run(const char *path, struct fx_capture *c)
{
	int pfd[2];
	if (pipe(pfd) < 0)
		die("pipe", NULL);
	pid_t pid = fork();
	if (pid < 0)
		die("fork", NULL);
	if (pid == 0) {
		dup2(pfd[1], 1);
		close(pfd[0]);
		close(pfd[1]);
		const char *how = getenv("QTOP_FX_EXEC");
		int elf32 = fx_is_elf32(path);
		if (elf32 && how && !strcmp(how, "qemu"))
			fx_exec_emulated(path, "QTOP_FX_EXEC=qemu");
		execl(path, path, (char *)NULL);
		if (errno == ENOEXEC && elf32)
			fx_exec_emulated(path, "this host cannot exec 32-bit programs");
		fprintf(stderr, "FAIL: exec %s: %s\n", path, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	size_t cap = 1 << 20, len = 0;
	uint8_t *buf = malloc(cap);
	ssize_t r;
	while ((r = read(pfd[0], buf + len, cap - len)) > 0)
		len += (size_t)r;
	close(pfd[0]);
	int st;
	waitpid(pid, &st, 0);
	if (len < sizeof c->d)
		die("fixture wrote no dump:", path);
	memcpy(&c->d, buf, sizeof c->d);
	if (c->d.magic != FX_MAGIC || len < sizeof c->d + c->d.stack_len)
		die("bad fixture dump:", path);
	c->stack = malloc(c->d.stack_len);
	memcpy(c->stack, buf + sizeof c->d, c->d.stack_len);
	free(buf);
}

struct qp_sample *fx_sample_ex(const struct fx_capture *c,
			       const struct fx_sample_opts *o)
{
	size_t cl = o->comm ? strlen(o->comm) + 1 : 0;
	struct qp_sample *s = calloc(1, sizeof *s + o->stack_len + o->ustack_len +
					 o->code_len + cl);
	s->regs.valid = 1;
	s->regs.long_mode = c->d.wordsize == 8;
	s->regs.cpl = (uint8_t)o->cpl;
	s->regs.cr3 = o->cr3;
	s->regs.ip = c->d.ip;
	memcpy(s->regs.gpr, c->d.gpr, sizeof s->regs.gpr);
	s->flags = o->flags;
	s->stack_addr = o->stack_addr;
	s->stack_len = o->stack_len;
	memcpy(qp_sample_stack(s), o->stack, o->stack_len);
	s->ustack_addr = o->ustack_addr;
	s->ustack_len = o->ustack_len;
	if (o->ustack_len)
		memcpy(qp_sample_stack(s) + o->stack_len, o->ustack, o->ustack_len);
	s->trap_addr = o->trap_addr;
	s->code_addr = o->code_addr;
	s->code_len = o->code_len;
	if (o->code_len) {
		memcpy((uint8_t *)qp_sample_code(s), o->code, o->code_len);
		s->flags |= QP_SF_HAS_CODE;
	}
	if (cl) {
		s->comm_len = (uint32_t)cl;
		memcpy((uint8_t *)qp_sample_comm(s), o->comm, cl);
		s->flags |= QP_SF_HAS_COMM;
	}
	return s;
}

struct qp_sample *fx_sample(const struct fx_capture *c, uint64_t cr3)
{
	struct fx_sample_opts o = {
		.cr3 = cr3, .cpl = 3,
		.stack = c->stack, .stack_addr = c->d.stack_addr,
		.stack_len = (uint32_t)c->d.stack_len,
		.code = c->d.code, .code_addr = c->d.ip, .code_len = FX_CODE,
	};
	return fx_sample_ex(c, &o);
}

void fx_join(const void *frames, size_t n, char *buf, size_t len)
{
	const struct prof_frame *f = frames;
	size_t k = 0;
	buf[0] = 0;
	for (size_t i = 0; i < n && k < len; i++)
		k += (size_t)snprintf(buf + k, len - k, "%s%s", i ? ";" : "",
				      f[i].name);
}

void fx_sysroot(char *dir, size_t len, const char *const *progs, int n)
{
	snprintf(dir, len, "/tmp/qtop-unwind-XXXXXX");
	if (!mkdtemp(dir))
		die("mkdtemp", NULL);
	for (int i = 0; i < n; i++) {
		char real[4096], link[8300];
		if (!realpath(progs[i], real))
			die("realpath", progs[i]);
		const char *b = strrchr(real, '/');
		snprintf(link, sizeof link, "%s/%s", dir, b ? b + 1 : real);
		if (symlink(real, link) < 0)
			die("symlink", link);
	}
}

void fx_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	char p[4096];
	while ((de = readdir(d)))
		if (de->d_name[0] != '.') {
			snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(dir);
}
