/* symfx.c - symbol table fixture: aliases, locals, mangled names, a
 * sizeless label, data. */
void _start(void);
int real_fn(int x);
int real_fn(int x) { return x + 1; }
int alias_fn(int x) __attribute__((weak, alias("real_fn")));
static int local_fn(int x) { return x * 2; }
void mangled_cxx(void) __asm__("_ZN3foo3barEi");
void mangled_cxx(void) {}
void mangled_rust(void) __asm__("_ZN4core3fmt5write17h0123456789abcdefE");
void mangled_rust(void) {}
__asm__(".text\n.globl sizeless_label\n.type sizeless_label, @function\n"
	"sizeless_label:\n\tnop\n\tnop\n\tnop\n\tnop\n\tret\n");
int data_var = 5;
volatile int sink;
void _start(void)
{
	sink = real_fn(1) + local_fn(2) + data_var;
	mangled_cxx();
	mangled_rust();
	for (;;)
		;
}
