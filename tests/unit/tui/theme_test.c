/* theme_test.c - the btop-format theme parser and colour reduction. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "theme.h"

static int failures;
#define CHECK(c) do { if (!(c)) { fprintf(stderr, "%s:%d: CHECK(%s) failed\n", \
	__FILE__, __LINE__, #c); failures++; } } while (0)

static int same(struct theme_color c, int set, int r, int g, int b)
{
	return c.set == set && (!set || (c.r == r && c.g == g && c.b == b));
}

static void test_values(void)
{
	struct theme_color c;
	CHECK(theme_parse_color("#2E3440", 7, &c) == 0 && same(c, 1, 0x2e, 0x34, 0x40));
	CHECK(theme_parse_color("#80", 3, &c) == 0 && same(c, 1, 128, 128, 128));
	CHECK(theme_parse_color("10 20 255", 9, &c) == 0 && same(c, 1, 10, 20, 255));
	CHECK(theme_parse_color("", 0, &c) == 0 && same(c, 0, 0, 0, 0));
	CHECK(theme_parse_color("#12345", 6, &c) < 0);
	CHECK(theme_parse_color("#GGGGGG", 7, &c) < 0);
	CHECK(theme_parse_color("1 2", 3, &c) < 0);
	CHECK(theme_parse_color("1 2 256", 7, &c) < 0);
	CHECK(theme_parse_color("red", 3, &c) < 0);
}

static void test_good_file(void)
{
	const char *text =
		"# a comment\n"
		"\n"
		"theme[main_bg]=\"#2E3440\"\n"
		"  theme[main_fg] = \"#d8\"   # trailing comment\n"
		"theme[title]=\"255 0 10\"\n"
		"theme[selected_bg]=\"\"\n"
		"theme[cpu_box]=\"#123456\"\n"       /* btop key: ignored */
		"theme[temp_mid]=\"not even a colour\"\n"  /* unknown: ignored */
		"theme[kernel_start]=\"#ff0000\"\r\n";
	struct theme t;
	char err[256] = "";
	theme_default(&t);
	struct theme d;
	theme_default(&d);
	CHECK(theme_parse(&t, text, strlen(text), "x.theme", err, sizeof err) == 0);
	CHECK(same(t.c[THEME_main_bg], 1, 0x2e, 0x34, 0x40));
	CHECK(same(t.c[THEME_main_fg], 1, 0xd8, 0xd8, 0xd8));
	CHECK(same(t.c[THEME_title], 1, 255, 0, 10));
	CHECK(same(t.c[THEME_selected_bg], 0, 0, 0, 0));   /* "" = terminal default */
	CHECK(same(t.c[THEME_kernel_start], 1, 255, 0, 0));
	/* keys the file does not set keep the compiled-in default */
	CHECK(!memcmp(&t.c[THEME_user_end], &d.c[THEME_user_end], sizeof d.c[0]));
	CHECK(!memcmp(&t.c[THEME_frozen], &d.c[THEME_frozen], sizeof d.c[0]));
}

static void test_bad_lines(void)
{
	struct theme t;
	char err[256] = "";
	const char *bad1 = "# ok\ntheme[main_bg]=\"#000000\"\ntheme[main_fg]=\"#zz\"\n";
	theme_default(&t);
	CHECK(theme_parse(&t, bad1, strlen(bad1), "my.theme", err, sizeof err) == -EINVAL);
	CHECK(!strncmp(err, "my.theme:3: ", 12));
	CHECK(strstr(err, "main_fg") != NULL);

	const char *bad2 = "theme[main_bg]=\"#000000\"\n\nmain_fg = red\n";
	CHECK(theme_parse(&t, bad2, strlen(bad2), "b.theme", err, sizeof err) == -EINVAL);
	CHECK(!strncmp(err, "b.theme:3: ", 11));

	const char *bad3 = "theme[title]=\"#ffffff\n";
	CHECK(theme_parse(&t, bad3, strlen(bad3), "c.theme", err, sizeof err) == -EINVAL);
	CHECK(!strncmp(err, "c.theme:1: ", 11) && strstr(err, "unterminated"));

	const char *bad4 = "theme[]=\"#ffffff\"\n";
	CHECK(theme_parse(&t, bad4, strlen(bad4), "d.theme", err, sizeof err) == -EINVAL);
	const char *bad5 = "theme[title]\"#ffffff\"\n";
	CHECK(theme_parse(&t, bad5, strlen(bad5), "e.theme", err, sizeof err) == -EINVAL);
	CHECK(strstr(err, "e.theme:1:") != NULL);
}

static void test_files(const char *srcdir)
{
	char path[4096], err[512] = "";
	struct theme t;
	const char *names[] = { "default", "light", "mono", "nord" };
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof path, "%s/%s.theme", srcdir, names[i]);
		int rc = theme_load_path(&t, path, err, sizeof err);
		if (rc)
			fprintf(stderr, "%s\n", err);
		CHECK(rc == 0);
		CHECK(!strcmp(t.name, names[i]));
	}
	/* mono.theme has no colours: drawn with attributes only */
	snprintf(path, sizeof path, "%s/mono.theme", srcdir);
	CHECK(theme_load_path(&t, path, err, sizeof err) == 0 && theme_is_mono(&t));
	theme_default(&t);
	CHECK(!theme_is_mono(&t));
	/* default.theme is the compiled-in default written out */
	struct theme d;
	snprintf(path, sizeof path, "%s/default.theme", srcdir);
	CHECK(theme_load_path(&t, path, err, sizeof err) == 0);
	theme_default(&d);
	CHECK(!memcmp(t.c, d.c, sizeof d.c));

	/* search: --themes-dir first, by name; paths are taken as they are */
	CHECK(theme_find("nord", srcdir, path, sizeof path, err, sizeof err) == 0);
	CHECK(strstr(path, "nord.theme") != NULL);
	CHECK(theme_find("no-such-theme", srcdir, path, sizeof path, err, sizeof err) == -ENOENT);
	CHECK(strstr(err, "no-such-theme") && strstr(err, srcdir));
	CHECK(theme_load(&t, "/nonexistent/x.theme", NULL, err, sizeof err) == -ENOENT);
	/* "default" works even when no themes are installed */
	CHECK(theme_load(&t, "default", "/nonexistent", err, sizeof err) == 0);
	CHECK(!memcmp(t.c, d.c, sizeof d.c));

	/* $XDG_CONFIG_HOME/qtop-prof/themes is searched before the data dirs */
	char tmpl[] = "/tmp/theme_test.XXXXXX";
	char *dir = mkdtemp(tmpl);
	CHECK(dir != NULL);
	if (dir) {
		char sub[4200], f[4300];
		snprintf(sub, sizeof sub, "%s/qtop-prof", dir);
		mkdir(sub, 0700);
		snprintf(sub, sizeof sub, "%s/qtop-prof/themes", dir);
		mkdir(sub, 0700);
		snprintf(f, sizeof f, "%s/mine.theme", sub);
		FILE *fp = fopen(f, "w");
		if (fp) {
			fputs("theme[title]=\"#010203\"\n", fp);
			fclose(fp);
		}
		setenv("XDG_CONFIG_HOME", dir, 1);
		CHECK(theme_load(&t, "mine", NULL, err, sizeof err) == 0);
		CHECK(same(t.c[THEME_title], 1, 1, 2, 3));
		unlink(f);
		rmdir(sub);
		snprintf(sub, sizeof sub, "%s/qtop-prof", dir);
		rmdir(sub);
		rmdir(dir);
	}
}

static void test_reduction(void)
{
	struct theme_color black = {1, 0, 0, 0}, white = {1, 255, 255, 255};
	struct theme_color red = {1, 255, 0, 0}, grey = {1, 128, 128, 128};
	struct theme_color nord = {1, 0x2e, 0x34, 0x40};
	CHECK(theme_nearest_256(red) == 196);
	CHECK(theme_nearest_256(black) == 16);
	CHECK(theme_nearest_256(white) == 231);
	CHECK(theme_nearest_256(grey) == 244);     /* 8 + 10 * 12 = 128 */
	CHECK(theme_nearest_256(nord) >= 232);     /* dark blue-grey: grey ramp */
	CHECK(theme_nearest_16(red) == 9);
	CHECK(theme_nearest_8(red) == 1);
	CHECK(theme_nearest_8(white) == 7);
	CHECK(theme_nearest_8(black) == 0);
	struct theme_color m = theme_mix(black, white, 0.5);
	CHECK(m.set && m.r == 128 && m.g == 128);
	CHECK(theme_luma(white) == 255 && theme_luma(black) == 0);
}

static void test_element_names(void)
{
	CHECK(!strcmp(theme_element_name(THEME_main_bg), "main_bg"));
	CHECK(theme_element_lookup("frozen", 6) == THEME_frozen);
	CHECK(theme_element_lookup("froze", 5) == -1);
	CHECK(theme_element_name(THEME_N) == NULL);
}

int main(int argc, char **argv)
{
	test_values();
	test_good_file();
	test_bad_lines();
	test_reduction();
	test_element_names();
	if (argc > 1)
		test_files(argv[1]);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
