/* fuzz_pprof.c - libFuzzer target for import_pprof (--load of a pprof file):
 * see import_roundtrip.h for what it checks besides "no crash". */
#include "import_roundtrip.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	return import_roundtrip(data, size, import_pprof, EXPORT_PPROF);
}
