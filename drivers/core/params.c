/*
 * key=value parameters: lookup, integer/size parsing, and the check of given
 * keys against the words a driver declares in info.params ("path=FILE ...").
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

const char *microvmi_param(const struct microvmi_params *p, const char *key)
{
    if (!p || !key)
        return NULL;
    size_t klen = strlen(key);
    for (size_t i = 0; i < p->count; i++) {
        const char *kv = p->kv[i];
        if (kv && strncmp(kv, key, klen) == 0 && kv[klen] == '=')
            return kv + klen + 1;
    }
    return NULL;
}

bool microvmi_parse_u64(const char *text, uint64_t *out)
{
    if (!text || !out || !isdigit((unsigned char)text[0]))
        return false;
    /* Base 10 or 16 only: a leading zero must not silently mean octal. */
    bool hex = text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
    if (hex && !isxdigit((unsigned char)text[2]))
        return false;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, hex ? 16 : 10);
    if (errno || end == text)
        return false;
    unsigned shift = 0;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': shift = 10; end++; break;
    case 'm': case 'M': shift = 20; end++; break;
    case 'g': case 'G': shift = 30; end++; break;
    case 't': case 'T': shift = 40; end++; break;
    default: return false;
    }
    if (*end == 'i' && shift) /* accept "Ki", "MiB" */
        end++;
    if ((*end == 'b' || *end == 'B') && shift)
        end++;
    if (*end != '\0')
        return false;
    if (shift && v > (UINT64_MAX >> shift))
        return false;
    *out = (uint64_t)v << shift;
    return true;
}

enum microvmi_status microvmi_param_u64(microvmi_t *vm, const struct microvmi_params *p,
                                        const char *key, uint64_t dflt, uint64_t *out)
{
    if (!out)
        return MICROVMI_INVALID_ARG;
    const char *v = microvmi_param(p, key);
    if (!v) {
        *out = dflt;
        return MICROVMI_OK;
    }
    if (!microvmi_parse_u64(v, out))
        return microvmi_fail(vm, MICROVMI_INVALID_ARG,
                             "parameter %s=%s is not a number: give decimal or 0x hex, "
                             "optionally with a K/M/G/T suffix (e.g. %s=512M)",
                             key, v, key);
    return MICROVMI_OK;
}

/* The next declared word's key: "path" from "path=FILE", "gdb" from an
 * optional "[gdb=PORT]". Advances *s past the word; false at the end. */
static bool next_key(const char **s, const char **key, size_t *klen)
{
    const char *p = *s;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p)
        return false;
    const char *word = p;
    while (*p && !isspace((unsigned char)*p))
        p++;
    *s = p;
    while (*word == '[')
        word++;
    size_t n = 0;
    while (word + n < p && word[n] != '=' && word[n] != ']')
        n++;
    *key = word;
    *klen = n;
    return true;
}

static bool declared_has(const char *declared, const char *key, size_t klen)
{
    const char *s = declared ? declared : "", *k;
    size_t n;
    while (next_key(&s, &k, &n))
        if (n == klen && n && strncmp(k, key, n) == 0)
            return true;
    return false;
}

/* "path, format" from "path=FILE format=auto|raw|elf". */
static void accepted_keys(const char *declared, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    const char *s = declared ? declared : "", *k;
    size_t n;
    while (next_key(&s, &k, &n)) {
        if (!n)
            continue;
        int w = snprintf(buf + used, len - used, "%s%.*s", used ? ", " : "", (int)n, k);
        if (w < 0 || (size_t)w >= len - used)
            return;
        used += (size_t)w;
    }
    if (!used)
        snprintf(buf, len, "none");
}

enum microvmi_status microvmi_params_check(const char *declared, const char *const *kv,
                                           size_t count, char *msg, size_t msglen)
{
    char accepted[256];
    for (size_t i = 0; i < count; i++) {
        const char *eq = kv[i] ? strchr(kv[i], '=') : NULL;
        if (!eq || eq == kv[i]) {
            snprintf(msg, msglen, "parameter '%s' is not of the form key=value",
                     kv[i] ? kv[i] : "(null)");
            return MICROVMI_INVALID_ARG;
        }
        size_t klen = (size_t)(eq - kv[i]);
        if (!declared_has(declared, kv[i], klen)) {
            accepted_keys(declared, accepted, sizeof accepted);
            snprintf(msg, msglen, "unknown parameter '%.*s' (accepted: %s)", (int)klen, kv[i],
                     accepted);
            return MICROVMI_INVALID_ARG;
        }
        for (size_t j = 0; j < i; j++) {
            if (strncmp(kv[j], kv[i], klen + 1) == 0) {
                snprintf(msg, msglen, "parameter '%.*s' is given twice", (int)klen, kv[i]);
                return MICROVMI_INVALID_ARG;
            }
        }
    }
    return MICROVMI_OK;
}
