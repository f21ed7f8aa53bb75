#include <stdio.h>
int main(void) { fputs("qtop-prof: not built yet\n", stderr); return 1; }
