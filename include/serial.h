/* serial.h - the guest's serial output of a --launch'ed QEMU: a thread
 * reads it from a pipe, stamps each line (CLOCK_MONOTONIC) for the serial
 * markers, copies it to echo_fd (stderr) and to a log file.
 */
#ifndef QTOP_SERIAL_H
#define QTOP_SERIAL_H

#include <stdio.h>
#include "markers.h"

struct serial_reader;

/* Takes fd (closed by serial_stop).  log may be NULL; ms may be NULL. */
struct serial_reader *serial_start(int fd, int echo_fd, FILE *log,
				   struct markers *ms, char *err, size_t errlen);
/* Wait for the end of the stream (QEMU gone) up to wait_ms, then stop the
 * thread and free.  NULL ok. */
void serial_stop(struct serial_reader *r, int wait_ms);

#endif
