/* Growth of the stub's tables (breakpoints, watchpoints, watched pages): the
 * tables are small, so doubling keeps insertions cheap without a library. */
#include <stdint.h>
#include <stdlib.h>

#include "stub.h"

void *stub_reserve(void *items, size_t *cap, size_t count, size_t item_size, size_t initial)
{
    if (count < *cap)
        return items;
    size_t want = *cap ? 2 * *cap : initial;
    if (want > SIZE_MAX / item_size)
        return NULL;
    void *grown = realloc(items, want * item_size);
    if (grown)
        *cap = want;
    return grown;
}
