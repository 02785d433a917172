/* Fuzz what the qemu driver reads from QEMU's gdbstub: stop replies and
 * target-description XML. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gdbchan.h"
#include "tdesc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        struct qgdb_stop s;
        qgdb_parse_stop(text, len, &s);
    } else {
        static struct tdesc t;
        memset(&t, 0, sizeof t);
        tdesc_parse_xml(&t, text, len);
        tdesc_finish(&t);
        uint32_t off = 0;
        for (size_t i = 0; i < t.count; i++) {
            if (t.regs[i].offset != off || t.regs[i].bytes == 0)
                __builtin_trap();
            off += t.regs[i].bytes;
        }
        tdesc_find(&t, "rip");
    }
    return 0;
}
