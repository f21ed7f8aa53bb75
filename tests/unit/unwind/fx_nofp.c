/* fx_nofp.c - built with -fomit-frame-pointer: only CFI gets through it. */
#include "fx.h"

int fx_mid(int n)
{
	volatile char buf[40];   /* a real stack frame, addressed from sp */
	buf[0] = (char)n;
	buf[1] = 0;
	int r = fx_rec(buf[0]);
	return r + buf[1];
}
