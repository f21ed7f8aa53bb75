/* errmsg.c - see errmsg.h. */
#include "errmsg.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	/* QEMU's and libelf's descriptions may hold newlines */
	for (char *p = err; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
}

void addline(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;

	if (len + 2 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + len, size - len - 1, fmt, ap);
	va_end(ap);
	len = strlen(buf);
	buf[len] = '\n';
	buf[len + 1] = 0;
}
