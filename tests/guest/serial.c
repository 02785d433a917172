/* COM1 output, polled. The wait for the transmitter is bounded: an emulator
 * that does not model the UART's line status must not hang the guest. */
#include "guest.h"

#define COM1 0x3f8
#define UART_THR 0
#define UART_IER 1
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_LSR_THRE 0x20
#define UART_POLL_LIMIT 10000

void guest_serial_init(void) {
  guest_outb(COM1 + UART_IER, 0x00);  /* no interrupts: the guest never enables them */
  guest_outb(COM1 + UART_LCR, 0x80);  /* DLAB: divisor follows */
  guest_outb(COM1 + UART_THR, 0x01);  /* 115200 baud */
  guest_outb(COM1 + UART_IER, 0x00);
  guest_outb(COM1 + UART_LCR, 0x03);  /* 8N1 */
  guest_outb(COM1 + UART_FCR, 0xc7);  /* FIFO on, cleared */
  guest_outb(COM1 + UART_MCR, 0x03);  /* DTR RTS, OUT2 off: no IRQ line */
}

static void serial_putc(char c) {
  for (int i = 0; i < UART_POLL_LIMIT; i++)
    if (guest_inb(COM1 + UART_LSR) & UART_LSR_THRE) break;
  guest_outb(COM1 + UART_THR, (uint8_t)c);
}

void guest_serial_puts(const char *s) {
  while (*s) serial_putc(*s++);
}

void guest_serial_put_dec(uint64_t v) {
  char buf[21];
  int i = sizeof buf - 1;
  buf[i] = 0;
  do {
    buf[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  guest_serial_puts(&buf[i]);
}

void guest_serial_put_hex(uint64_t v, int digits) {
  static const char hex[] = "0123456789abcdef";
  for (int i = digits - 1; i >= 0; i--) serial_putc(hex[(v >> (4 * i)) & 0xf]);
}
