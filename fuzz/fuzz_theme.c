/* fuzz_theme.c - libFuzzer target for the theme parser: any bytes must parse
 * or fail with a "name:line:" message, never crash or read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "theme.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct theme t;
	char err[256];
	/* an exact-size copy, so reading past the end is caught by ASan */
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	theme_default(&t);
	err[0] = '\0';
	int rc = theme_parse(&t, buf, size, "fuzz.theme", err, sizeof err);
	if (rc != 0 && strncmp(err, "fuzz.theme:", 11) != 0)
		abort();       /* every error names the file and line */
	struct theme_color c;
	theme_parse_color(buf, size, &c);
	for (int i = 0; i < THEME_N; i++) {
		theme_nearest_256(t.c[i]);
		theme_nearest_16(t.c[i]);
	}
	free(buf);
	return 0;
}
