/* Fuzz the QMP reply handling: bytes in any split through the line splitter,
 * each line classified. */
#include <stddef.h>
#include <stdint.h>

#include "qmp.h"

static int on_line(void *ctx, const char *line, size_t len)
{
    struct qmp_msg m;
    qmp_parse_line(line, len, &m);
    if (m.kind == QMP_MSG_ERROR && !m.error_desc)
        __builtin_trap();
    if (m.kind == QMP_MSG_EVENT && !m.event)
        __builtin_trap();
    json_object_put(m.obj);
    (*(size_t *)ctx)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct qmp_lines l = { 0 };
    size_t lines = 0;
    /* the first byte sets the chunk size, so splits vary */
    size_t chunk = size ? (size_t)data[0] % 64 + 1 : 1;
    for (size_t off = size ? 1 : 0; off < size; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk;
        qmp_lines_feed(&l, (const char *)data + off, n, on_line, &lines);
    }
    qmp_lines_free(&l);
    return 0;
}
