/* libFuzzer target: record file parsing (record_parse_buffer). */
#include <stddef.h>
#include <stdint.h>
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	record_parse_buffer(data, size, err, sizeof err);
	return 0;
}
