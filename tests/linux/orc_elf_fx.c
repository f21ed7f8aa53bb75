/* ORC sections in an object file, for orc_from_elf's layout checks:
 * default 6.1 layout; -DHDR adds .orc_header (6.4+); -DBAD sizes that do
 * not match. */
#include <stdint.h>
#define SEC(s) __attribute__((section(s), used, aligned(4)))
SEC(".orc_unwind_ip") const int32_t orc_ip[3] = { 0x1000, 0x1000 - 4, 0x1100 - 8 };
#ifdef BAD
SEC(".orc_unwind") const uint16_t orc_u[6] = { 8, 0, 5, 16, 0, 5 };
#else
SEC(".orc_unwind") const uint16_t orc_u[9] = { 8, 0, 5, 16, 0, 5, 8, 0, 5 };
#endif
#ifdef HDR
SEC(".orc_header") const uint8_t orc_hdr[20] = { 1 };
#endif
