/* serial.c - COM1 output, polled. */
#include "qg.h"

#define COM1 0x3f8

void serial_init(void)
{
	outb(COM1 + 1, 0x00);   /* no interrupts */
	outb(COM1 + 3, 0x80);   /* DLAB */
	outb(COM1 + 0, 0x01);   /* 115200 */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);   /* 8N1 */
	outb(COM1 + 2, 0xc7);   /* FIFO */
}

static void serial_putc(char c)
{
	while (!(inb(COM1 + 5) & 0x20))
		;
	outb(COM1, (uint8_t)c);
}

void serial_puts(const char *s)
{
	while (*s)
		serial_putc(*s++);
}

void serial_putdec(unsigned long v)
{
	char buf[24];
	int i = 0;

	do {
		buf[i++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (i)
		serial_putc(buf[--i]);
}

void serial_puthex(unsigned long v)
{
	int shift;

	serial_puts("0x");
	for (shift = (int)(sizeof v * 8) - 4; shift >= 0; shift -= 4)
		serial_putc("0123456789abcdef"[(v >> shift) & 0xf]);
}
