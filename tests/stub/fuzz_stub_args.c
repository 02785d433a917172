/* libFuzzer: every packet-argument parser of the stub on arbitrary bytes. */
#include "args.h"
#include "cli.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* An exact-size copy so ASan catches any read past the packet. */
    char *a = malloc(size ? size : 1);
    if (!a)
        return 0;
    memcpy(a, data, size);
    uint64_t x, y, reg;
    int t;
    const char *d;
    size_t dl, vl;
    uint8_t val[16];
    char text[256];
    struct stub_vcont_action acts[8];
    struct stub_xfer xf;
    stub_parse_addr_len(a, size, &x, &y);
    stub_parse_addr_len_data(a, size, &x, &y, &d, &dl);
    stub_parse_z(a, size, &t, &x, &y);
    stub_parse_vcont(a, size, acts, 8);
    stub_parse_p(a, size, &reg);
    stub_parse_P(a, size, &reg, val, sizeof val, &vl);
    stub_parse_rcmd(a, size, text, sizeof text);
    stub_parse_xfer_read(a, size, &xf);
    struct stub_cursor c = { a, a + size };
    int64_t tid;
    stub_parse_tid(&c, &tid);
    if (size >= 2 && size % 2 == 0)
        stub_hex_decode(a, size, val, size / 2 <= sizeof val ? size / 2 : 0);
    /* --listen values too (NUL-terminated copy) */
    char *z = malloc(size + 1);
    if (z) {
        memcpy(z, data, size);
        z[size] = '\0';
        struct stub_options o;
        memset(&o, 0, sizeof o);
        stub_cli_parse_listen(z, &o);
        free(z);
    }
    free(a);
    return 0;
}
