/*
 * Working around one Unicorn 2.0.1 quirk that has no API: QEMU remembers the
 * exception in flight (CPUX86State.old_exception) and forgets it only when
 * it delivers the exception itself, which it never does under a UC_HOOK_INTR.
 * So the guest's second #PF would become a #DF, and the third a reset.
 * After each exception we deliver, the driver clears that field through a
 * saved context (the raw CPU state). Its offset is found once per process by
 * raising #DE twice in a scratch engine (-1, then 0, then 8 = double fault).
 */
#include <stdlib.h>
#include <string.h>

#include "emu.h"

static void stop_on_intr(uc_engine *uc, uint32_t intno, void *user)
{
    *(uint32_t *)user = intno;
    uc_emu_stop(uc);
}

static bool snapshot(uc_engine *uc, uc_context *ctx, uint8_t *out, size_t len)
{
    if (uc_context_save(uc, ctx) != UC_ERR_OK)
        return false;
    memcpy(out, ctx, len);
    return true;
}

long emu_quirk_find_old_exception(void)
{
    static const uint8_t code[] = {0x31, 0xc9, 0xf7, 0xf1}; /* xor ecx,ecx; div ecx */
    uc_engine *uc = NULL;
    uc_context *ctx = NULL;
    uint8_t *s[3] = {NULL, NULL, NULL};
    long found = -1;
    if (uc_open(UC_ARCH_X86, UC_MODE_64, &uc) != UC_ERR_OK)
        return -1;
    size_t len = uc_context_size(uc);
    uint32_t intno = 0;
    uc_hook h;
    if (uc_mem_map(uc, 0x1000, 0x1000, UC_PROT_ALL) != UC_ERR_OK ||
        uc_mem_write(uc, 0x1000, code, sizeof code) != UC_ERR_OK ||
        uc_hook_add(uc, &h, UC_HOOK_INTR, (void *)stop_on_intr, &intno, 1, 0) != UC_ERR_OK ||
        uc_context_alloc(uc, &ctx) != UC_ERR_OK)
        goto out;
    for (int i = 0; i < 3; i++)
        if (!(s[i] = malloc(len)))
            goto out;
    if (!snapshot(uc, ctx, s[0], len))
        goto out;
    uc_emu_start(uc, 0x1000, 0, 0, 0);
    if (intno != 0 || !snapshot(uc, ctx, s[1], len))
        goto out;
    uc_emu_start(uc, 0x1000, 0, 0, 0);
    if (intno != 8 || !snapshot(uc, ctx, s[2], len))
        goto out;
    for (size_t off = 0; off + 4 <= len; off += 4) {
        int32_t a, b, c;
        memcpy(&a, s[0] + off, 4);
        memcpy(&b, s[1] + off, 4);
        memcpy(&c, s[2] + off, 4);
        if (a == -1 && b == 0 && c == 8) {
            if (found >= 0) { /* ambiguous: do not guess */
                found = -1;
                break;
            }
            found = (long)off;
        }
    }
out:
    for (int i = 0; i < 3; i++)
        free(s[i]);
    if (ctx)
        uc_context_free(ctx);
    uc_close(uc);
    return found;
}

void emu_quirk_clear_old_exception(struct emu_vcpu *v)
{
    struct emu *emu = v->emu;
    if (emu->old_exc_off < 0 || !v->ctx)
        return;
    if (uc_context_save(v->uc, v->ctx) != UC_ERR_OK)
        return;
    int32_t none = -1;
    memcpy((uint8_t *)v->ctx + emu->old_exc_off, &none, 4);
    uc_context_restore(v->uc, v->ctx);
}
