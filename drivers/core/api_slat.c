/* Thin wrappers: SLAT page permissions and views (alternate SLAT). */
#include "handle.h"

enum microvmi_status microvmi_set_page_access(microvmi_t *vm, uint16_t view, uint64_t gfn,
                                              enum microvmi_access allowed)
{
    if ((unsigned)allowed > MICROVMI_ACCESS_RWX)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG,
                             "set_page_access: access 0x%x is not a combination of R, W, X",
                             (unsigned)allowed);
    MICROVMI_FORWARD(vm, set_page_access, "page access permissions", view, gfn, allowed);
}

enum microvmi_status microvmi_get_page_access(microvmi_t *vm, uint16_t view, uint64_t gfn,
                                              enum microvmi_access *allowed)
{
    if (!allowed)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG, "get_page_access: allowed is NULL");
    MICROVMI_FORWARD(vm, get_page_access, "page access permissions", view, gfn, allowed);
}

enum microvmi_status microvmi_view_create(microvmi_t *vm, uint16_t *view)
{
    if (!view)
        return microvmi_fail(vm, MICROVMI_INVALID_ARG, "view_create: view is NULL");
    MICROVMI_FORWARD(vm, view_create, "alternate SLAT views", view);
}

enum microvmi_status microvmi_view_destroy(microvmi_t *vm, uint16_t view)
{
    MICROVMI_FORWARD(vm, view_destroy, "alternate SLAT views", view);
}

enum microvmi_status microvmi_view_switch(microvmi_t *vm, uint32_t vcpu, uint16_t view)
{
    MICROVMI_FORWARD(vm, view_switch, "alternate SLAT views", vcpu, view);
}

enum microvmi_status microvmi_view_change_gfn(microvmi_t *vm, uint16_t view, uint64_t old_gfn,
                                              uint64_t new_gfn)
{
    MICROVMI_FORWARD(vm, view_change_gfn, "changing a view's gfn", view, old_gfn, new_gfn);
}
