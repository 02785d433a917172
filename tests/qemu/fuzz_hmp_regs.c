/* Fuzz the parsers of QEMU's human-monitor text: `info registers` and
 * `info mtree -f`. The first byte picks the parser. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "hmp_regs.h"
#include "layout.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] & 1) {
        struct microvmi_x86_regs r;
        memset(&r, 0, sizeof r);
        qemu_hmp_parse_regs(text, len, &r);
    } else {
        struct qemu_layout l;
        if (qemu_layout_parse_mtree(text, len, "ram0", &l)) {
            for (size_t i = 0; i < l.count; i++) {
                if (!qemu_layout_find(&l, l.r[i].gpa) || l.r[i].size == 0)
                    __builtin_trap();
                if (i && l.r[i].gpa < l.r[i - 1].gpa + l.r[i - 1].size)
                    __builtin_trap(); /* sorted, no overlap */
            }
        }
    }
    return 0;
}
