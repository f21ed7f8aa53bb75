/* fuzz_speedscope.c - libFuzzer target for import_speedscope (--load of a speedscope file):
 * see import_roundtrip.h for what it checks besides "no crash". */
#include "import_roundtrip.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	return import_roundtrip(data, size, import_speedscope, EXPORT_SPEEDSCOPE);
}
