/* A position-independent program for progmatch_test: its own code spans
 * more than a page, so some of its pages tell it apart. */
volatile unsigned long pm_sink;

#define BODY(n) void pm_f##n(void); void pm_f##n(void) { \
	for (unsigned long i = 0; i < 1000; i++) pm_sink += i * (n) ^ (pm_sink >> 3); }
BODY(1) BODY(2) BODY(3) BODY(4) BODY(5) BODY(6) BODY(7) BODY(8)
BODY(9) BODY(10) BODY(11) BODY(12) BODY(13) BODY(14) BODY(15) BODY(16)
BODY(17) BODY(18) BODY(19) BODY(20) BODY(21) BODY(22) BODY(23) BODY(24)
BODY(25) BODY(26) BODY(27) BODY(28) BODY(29) BODY(30) BODY(31) BODY(32)
BODY(33) BODY(34) BODY(35) BODY(36) BODY(37) BODY(38) BODY(39) BODY(40)

void _start(void);
void _start(void)
{
	for (;;) {
		pm_f1(); pm_f2(); pm_f3(); pm_f4(); pm_f5(); pm_f6(); pm_f7(); pm_f8();
		pm_f9(); pm_f10(); pm_f11(); pm_f12(); pm_f13(); pm_f14(); pm_f15(); pm_f16();
		pm_f17(); pm_f18(); pm_f19(); pm_f20(); pm_f21(); pm_f22(); pm_f23(); pm_f24();
		pm_f25(); pm_f26(); pm_f27(); pm_f28(); pm_f29(); pm_f30(); pm_f31(); pm_f32();
		pm_f33(); pm_f34(); pm_f35(); pm_f36(); pm_f37(); pm_f38(); pm_f39(); pm_f40();
	}
}
