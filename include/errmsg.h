/* errmsg.h - the one way library code reports an error: a one-line human
 * message into the caller's buffer (library code never prints). */
#ifndef QTOP_ERRMSG_H
#define QTOP_ERRMSG_H

#include <stddef.h>

/* printf into err (NULL or errlen 0: nothing); control characters become
 * spaces, so the user always sees a single line. */
void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Appends one line (fmt, then '\n') to the NUL-terminated text in buf of
 * size bytes: a list of warnings for the front end to print.  A line that
 * does not fit is cut; once the buffer is full, later lines are dropped. */
void addline(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
