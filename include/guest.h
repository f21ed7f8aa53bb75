/* guest.h - one guest, as qtop-prof knows it: its kernel image and kernel
 * symbols, the program ELFs of its --sysroot, each file opened and read
 * once per run, and what is derived from them (the Linux knowledge: ORC,
 * BTF layout, symbols, the banner).
 *
 * guest_open reads the files named by the config and scans the sysroot
 * once; the run's set-up (KASLR, --comm linux), the symbolizer (kernel
 * symbols, ORC, libdwfl, the programs), the page matcher (progmatch.h),
 * --comm and the build-ids of the exports all take what they need from
 * here instead of opening the paths again, and guest_close frees it once,
 * after the symbolizer.
 *
 * Library code: no printing.  A file that cannot be read is not an error
 * here: its message is kept and reported by the first user that needs the
 * file, with the same words as before (e.g. "PATH: No such file or
 * directory", "PATH: not an ELF file").
 */
#ifndef QTOP_GUEST_H
#define QTOP_GUEST_H

#include <stddef.h>

struct elffile;
struct linux_kernel;
struct Elf;

struct guest_config {
	const char *kernel;        /* --kernel ELF, or NULL */
	const char *symbols;       /* --symbols nm/System.map/kallsyms text, or NULL */
	const char *sysroot;       /* --sysroot DIR with the program ELFs, or NULL */
};

struct guest;

/* NULL only when out of memory (message in err). */
struct guest *guest_open(const struct guest_config *cfg, char *err,
			 size_t errlen);
/* Frees everything the guest owns (also an adopted linux_kernel).  NULL
 * ok. */
void guest_close(struct guest *g);

/* Only the programs of sysroot, for users without a run's guest (tests,
 * recordings profiled again): kernel (a path, or NULL) is the image to
 * leave out, not opened.  NULL only when out of memory. */
struct guest *guest_open_sysroot(const char *sysroot, const char *kernel,
				 char *err, size_t errlen);

const char *guest_kernel_path(const struct guest *g);   /* NULL: none */
const char *guest_symbols_path(const struct guest *g);  /* NULL: none */
const char *guest_sysroot_path(const struct guest *g);  /* NULL: none */

/* The program ELFs of the sysroot, in the order found: every readable
 * regular file 4 levels deep (no dot files) whose bytes start as an ELF,
 * except the kernel image (same realpath as --kernel), each mapped once
 * (elffile_map; the first few hundred keep their fd for libdwfl, the
 * others have fd -1).  Which of them are programs (ET_EXEC for the
 * symbolizer, ET_EXEC/ET_DYN with code for progmatch; not an upper-half
 * kernel image) each user decides from the mapped headers. */
struct guest_prog {
	const struct elffile *file;
	const char *path;          /* as found: SYSROOT/sub/name (file->path) */
	const char *name;          /* the file name */
	const char *real;          /* its realpath (path when there is none) */
};
int guest_nprogs(const struct guest *g);              /* NULL ok: 0 */
const struct guest_prog *guest_prog(const struct guest *g, int i);
/* Problems met scanning the sysroot ("PATH: reason (skipped)" for an
 * unreadable file or directory), newline-separated, "" if none: the
 * symbolizer passes them on as its warnings. */
const char *guest_sysroot_warnings(const struct guest *g);
/* The guest's open file at path (the kernel image or a sysroot program,
 * path as given / found), or NULL. */
const struct elffile *guest_file(const struct guest *g, const char *path);

/* The kernel image, mapped (its Elf in ->elf, NULL when the bytes are not
 * an ELF), or NULL with why in err ("PATH: reason"; "" when no --kernel). */
const struct elffile *guest_kernel(const struct guest *g, char *err,
				   size_t errlen);

/* The --symbols text (NUL-terminated; its length in *len), or NULL with
 * why in err.  When that file is an ELF, guest_symbols_elf is its Elf. */
const char *guest_symbols_text(const struct guest *g, size_t *len, char *err,
			       size_t errlen);
struct Elf *guest_symbols_elf(const struct guest *g);

/* The kernel's build-id as hex (for reports), 0 or -1. */
int guest_build_id(const struct guest *g, char *hex, size_t len);

/* Linux: a vmlinux with ORC (see linux_kernel_open), with sysmap the
 * --symbols text (use_symbols) or the vmlinux's own symbols.  NULL with a
 * message. */
struct linux_kernel *guest_linux_open(const struct guest *g, int use_symbols,
				      char *err, size_t errlen);
/* Only the symbols of a Linux kernel (see linux_kernel_open_syms) from the
 * --symbols file (or the kernel image when there is no --symbols). */
struct linux_kernel *guest_linux_open_syms(const struct guest *g, char *err,
					   size_t errlen);

/* The Linux kernel of this guest, set up once (KASLR, --comm linux) and
 * shared with the symbolizer; the guest frees it.  guest_linux: NULL when
 * none was set up. */
void guest_adopt_linux(struct guest *g, struct linux_kernel *k);
struct linux_kernel *guest_linux(const struct guest *g);

#endif
