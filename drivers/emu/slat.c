/*
 * Second-level address translation, emulated per engine: each vCPU's engine
 * carries the page permissions (uc_mem_protect) and frame substitutions
 * (a page re-mapped onto another frame of the same host RAM, as Xen's
 * altp2m change_gfn) of the view that vCPU is in. Faults surface through
 * the UC_HOOK_MEM_PROT hook (events.c) before the access lands.
 *
 * While any page is restricted, every engine also carries two memory hooks
 * that never match: Unicorn then keeps RIP exact at each memory access, so
 * a fault reports the faulting instruction, not its block's start.
 */
#include <stdlib.h>
#include <string.h>

#include "emu.h"

#define NEVER_ADDR 0xfff0000000000000ull

static uint32_t uc_perms(uint8_t access)
{
    return ((access & MICROVMI_ACCESS_R) ? UC_PROT_READ : 0) |
           ((access & MICROVMI_ACCESS_W) ? UC_PROT_WRITE : 0) |
           ((access & MICROVMI_ACCESS_X) ? UC_PROT_EXEC : 0);
}

static bool view_alloc(struct emu *emu, struct emu_view *view)
{
    view->perm = malloc(emu->npages);
    view->remap = malloc(emu->npages * sizeof *view->remap);
    if (!view->perm || !view->remap) {
        free(view->perm);
        free(view->remap);
        view->perm = NULL;
        view->remap = NULL;
        return false;
    }
    memset(view->perm, MICROVMI_ACCESS_RWX, emu->npages);
    for (uint64_t g = 0; g < emu->npages; g++)
        view->remap[g] = (uint32_t)g;
    view->used = true;
    view->restricted = 0;
    view->remapped = 0;
    return true;
}

static void view_free(struct emu_view *view)
{
    free(view->perm);
    free(view->remap);
    memset(view, 0, sizeof *view);
}

enum microvmi_status emu_slat_init(struct emu *emu)
{
    if (!view_alloc(emu, &emu->view[0]))
        return microvmi_fail(emu->vm, MICROVMI_OUT_OF_MEMORY, "emu: no memory for SLAT tables");
    for (uint32_t i = 0; i < emu->nvcpus; i++) {
        struct emu_vcpu *v = &emu->vcpu[i];
        v->applied_perm = malloc(emu->npages);
        v->applied_remap = malloc(emu->npages * sizeof *v->applied_remap);
        if (!v->applied_perm || !v->applied_remap)
            return microvmi_fail(emu->vm, MICROVMI_OUT_OF_MEMORY,
                                 "emu: no memory for SLAT tables");
        memcpy(v->applied_perm, emu->view[0].perm, emu->npages);
        memcpy(v->applied_remap, emu->view[0].remap, emu->npages * sizeof *v->applied_remap);
        v->emulate_gfn = EMU_NO_ADDR;
    }
    return MICROVMI_OK;
}

void emu_slat_close(struct emu *emu)
{
    for (int i = 0; i < EMU_MAX_VIEWS; i++)
        view_free(&emu->view[i]);
    for (uint32_t i = 0; i < EMU_MAX_VCPUS; i++) {
        free(emu->vcpu[i].applied_perm);
        free(emu->vcpu[i].applied_remap);
        emu->vcpu[i].applied_perm = NULL;
        emu->vcpu[i].applied_remap = NULL;
    }
}

static void never_called(uc_engine *uc, uc_mem_type type, uint64_t addr, int size,
                         int64_t value, void *user)
{
    (void)uc, (void)type, (void)addr, (void)size, (void)value, (void)user;
}

/* Exact RIP at memory accesses while some page is restricted (engines stopped). */
static void memsync_refresh(struct emu *emu)
{
    bool want = false;
    for (int i = 0; i < EMU_MAX_VIEWS; i++)
        if (emu->view[i].used && emu->view[i].restricted)
            want = true;
    if (want == emu->memsync_on)
        return;
    for (uint32_t i = 0; i < emu->nvcpus; i++) {
        struct emu_vcpu *v = &emu->vcpu[i];
        if (want) {
            uc_hook_add(v->uc, &v->h_memr, UC_HOOK_MEM_READ, (void *)never_called, v,
                        NEVER_ADDR, NEVER_ADDR);
            uc_hook_add(v->uc, &v->h_memw, UC_HOOK_MEM_WRITE, (void *)never_called, v,
                        NEVER_ADDR, NEVER_ADDR);
        } else {
            uc_hook_del(v->uc, v->h_memr);
            uc_hook_del(v->uc, v->h_memw);
        }
        v->has_memsync = want;
        emu_invalidate_all(v);
    }
    emu->memsync_on = want;
}

static void apply_page(struct emu_vcpu *v, uint64_t gfn, uint8_t perm, uint32_t frame)
{
    struct emu *emu = v->emu;
    /* QEMU's atomic read-modify-writes only check write permission: an
     * unreadable page is made unwritable too, and events.c tells the
     * writes that only write from those that also read. */
    if (!(perm & MICROVMI_ACCESS_R))
        perm &= (uint8_t)~MICROVMI_ACCESS_W;
    uint64_t gpa = gfn * MICROVMI_PAGE_SIZE;
    emu_invalidate_vcpu(v, gpa, MICROVMI_PAGE_SIZE);
    if (v->applied_remap[gfn] != frame) {
        uc_mem_unmap(v->uc, gpa, MICROVMI_PAGE_SIZE);
        uc_mem_map_ptr(v->uc, gpa, MICROVMI_PAGE_SIZE, uc_perms(perm),
                       emu->ram + (uint64_t)frame * MICROVMI_PAGE_SIZE);
        v->applied_remap[gfn] = frame;
    } else {
        uc_mem_protect(v->uc, gpa, MICROVMI_PAGE_SIZE, uc_perms(perm));
    }
    v->applied_perm[gfn] = perm;
}

void emu_slat_apply(struct emu_vcpu *v)
{
    struct emu *emu = v->emu;
    const struct emu_view *view = &emu->view[v->view];
    if (!view->used)
        return;
    bool changed = false;
    for (uint64_t g = 0; g < emu->npages; g++) {
        if (g == v->emulate_gfn)
            continue;
        if (v->applied_perm[g] != view->perm[g] || v->applied_remap[g] != view->remap[g]) {
            apply_page(v, g, view->perm[g], view->remap[g]);
            changed = true;
        }
    }
    /* uc_mem_protect flushes Unicorn's TLB only when write permission
     * changes: a page made unreadable would stay readable through it. */
    if (changed)
        emu_flush_tlb(v);
}

static void apply_all(struct emu *emu)
{
    memsync_refresh(emu);
    for (uint32_t i = 0; i < emu->nvcpus; i++)
        emu_slat_apply(&emu->vcpu[i]);
}

void emu_slat_permit_once(struct emu_vcpu *v, uint64_t gfn)
{
    if (gfn >= v->emu->npages)
        return;
    v->emulate_gfn = gfn;
    apply_page(v, gfn, MICROVMI_ACCESS_RWX, v->applied_remap[gfn]);
    emu_flush_tlb(v);
}

void emu_slat_restore(struct emu_vcpu *v, uint64_t gfn)
{
    struct emu *emu = v->emu;
    v->emulate_gfn = EMU_NO_ADDR;
    if (gfn >= emu->npages)
        return;
    const struct emu_view *view = &emu->view[v->view];
    apply_page(v, gfn, view->perm[gfn], view->remap[gfn]);
    emu_flush_tlb(v);
}

static enum microvmi_status check_view(struct emu *emu, uint16_t view)
{
    if (view >= EMU_MAX_VIEWS || !emu->view[view].used)
        return microvmi_fail(emu->vm, MICROVMI_INVALID_ARG,
                             "emu: view %u does not exist (create one with view_create)", view);
    return MICROVMI_OK;
}

static enum microvmi_status check_gfn(struct emu *emu, uint64_t gfn)
{
    if (gfn >= emu->npages)
        return microvmi_fail(emu->vm, MICROVMI_NO_MEMORY_AT_ADDRESS,
                             "emu: gfn 0x%llx is beyond guest RAM (max gfn 0x%llx)",
                             (unsigned long long)gfn, (unsigned long long)(emu->npages - 1));
    return MICROVMI_OK;
}

enum microvmi_status emu_set_page_access(struct emu *emu, uint16_t view, uint64_t gfn,
                                         enum microvmi_access allowed)
{
    enum microvmi_status st = check_view(emu, view);
    if (st == MICROVMI_OK)
        st = check_gfn(emu, gfn);
    if (st != MICROVMI_OK)
        return st;
    if ((unsigned)allowed > MICROVMI_ACCESS_RWX)
        return microvmi_fail(emu->vm, MICROVMI_INVALID_ARG, "emu: access %u is not r/w/x bits",
                             (unsigned)allowed);
    emu_quiesce(emu);
    struct emu_view *v = &emu->view[view];
    bool was = v->perm[gfn] != MICROVMI_ACCESS_RWX, now = allowed != MICROVMI_ACCESS_RWX;
    v->perm[gfn] = (uint8_t)allowed;
    v->restricted += (uint64_t)now - (uint64_t)was;
    apply_all(emu);
    emu_unquiesce(emu);
    return MICROVMI_OK;
}

enum microvmi_status emu_get_page_access(struct emu *emu, uint16_t view, uint64_t gfn,
                                         enum microvmi_access *allowed)
{
    enum microvmi_status st = check_view(emu, view);
    if (st == MICROVMI_OK)
        st = check_gfn(emu, gfn);
    if (st == MICROVMI_OK)
        *allowed = (enum microvmi_access)emu->view[view].perm[gfn];
    return st;
}

enum microvmi_status emu_view_create(struct emu *emu, uint16_t *view)
{
    for (uint16_t i = 1; i < EMU_MAX_VIEWS; i++) {
        if (emu->view[i].used)
            continue;
        if (!view_alloc(emu, &emu->view[i]))
            return microvmi_fail(emu->vm, MICROVMI_OUT_OF_MEMORY, "emu: no memory for a view");
        *view = i;
        return MICROVMI_OK;
    }
    return microvmi_fail(emu->vm, MICROVMI_OUT_OF_MEMORY, "emu: all %d views are in use",
                         EMU_MAX_VIEWS - 1);
}

enum microvmi_status emu_view_destroy(struct emu *emu, uint16_t view)
{
    if (view == 0)
        return microvmi_fail(emu->vm, MICROVMI_INVALID_ARG, "emu: view 0 cannot be destroyed");
    enum microvmi_status st = check_view(emu, view);
    if (st != MICROVMI_OK)
        return st;
    emu_quiesce(emu);
    for (uint32_t i = 0; i < emu->nvcpus; i++)
        if (emu->vcpu[i].view == view)
            emu->vcpu[i].view = 0;
    view_free(&emu->view[view]);
    apply_all(emu);
    emu_unquiesce(emu);
    return MICROVMI_OK;
}

enum microvmi_status emu_view_switch(struct emu *emu, uint32_t vcpu, uint16_t view)
{
    if (vcpu >= emu->nvcpus)
        return microvmi_fail(emu->vm, MICROVMI_INVALID_ARG, "emu: no vCPU %u", vcpu);
    enum microvmi_status st = check_view(emu, view);
    if (st != MICROVMI_OK)
        return st;
    emu_quiesce(emu);
    emu->vcpu[vcpu].view = view;
    apply_all(emu);
    emu_unquiesce(emu);
    return MICROVMI_OK;
}

enum microvmi_status emu_view_change_gfn(struct emu *emu, uint16_t view, uint64_t old_gfn,
                                         uint64_t new_gfn)
{
    enum microvmi_status st = check_view(emu, view);
    if (st == MICROVMI_OK)
        st = check_gfn(emu, old_gfn);
    if (st == MICROVMI_OK)
        st = check_gfn(emu, new_gfn);
    if (st != MICROVMI_OK)
        return st;
    emu_quiesce(emu);
    struct emu_view *v = &emu->view[view];
    bool was = v->remap[old_gfn] != old_gfn, now = new_gfn != old_gfn;
    v->remap[old_gfn] = (uint32_t)new_gfn;
    v->remapped += (uint64_t)now - (uint64_t)was;
    apply_all(emu);
    emu_unquiesce(emu);
    return MICROVMI_OK;
}
