/* tui_list.c - cursor movement shared by the table views. */
#include "tui_view.h"

int tui_list_move(long *sel, long n, int page, int key)
{
	long s = *sel;
	if (page < 1)
		page = 1;
	switch (key) {
	case KEY_UP: case 'k': s--; break;
	case KEY_DOWN: case 'j': s++; break;
	case KEY_PPAGE: s -= page; break;
	case KEY_NPAGE: case ' ': s += page; break;
	case KEY_HOME: case 'g': s = 0; break;
	case KEY_END: case 'G': s = n - 1; break;
	default: return TR_UNHANDLED;
	}
	if (s >= n) s = n - 1;
	if (s < 0) s = 0;
	*sel = s;
	return TR_REDRAW;
}
