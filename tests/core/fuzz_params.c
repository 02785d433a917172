/* Fuzz the parameter parsers: size/number parsing and the declared-keys check. */
#include <stdlib.h>
#include <string.h>

#include "driver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    uint64_t v;
    (void)microvmi_parse_u64(text, &v);
    enum microvmi_event_kind kind;
    if (microvmi_event_kind_parse(text, &kind) == MICROVMI_OK &&
        (kind < MICROVMI_EVENT_CR || kind >= MICROVMI_EVENT_KIND_COUNT))
        __builtin_trap();

    /* Split at newlines: first line is the declared params, the rest kv. */
    const char *kv[16];
    size_t n = 0;
    char *declared = text, *p = strchr(text, '\n');
    while (p && n < 16) {
        *p = '\0';
        kv[n++] = p + 1;
        p = strchr(p + 1, '\n');
    }
    char msg[256];
    (void)microvmi_params_check(declared, kv, n, msg, sizeof msg);
    struct microvmi_params params = { n, kv };
    for (size_t i = 0; i < n; i++) {
        char key[32];
        snprintf(key, sizeof key, "%.*s", (int)strcspn(kv[i], "="), kv[i]);
        (void)microvmi_param(&params, key);
        (void)microvmi_param_u64(NULL, &params, key, 0, &v);
    }
    free(text);
    return 0;
}
