/* vCPUs as gdb threads (vCPU n is thread n+1) and their address spaces. */
#include "stub.h"

bool stub_tid_to_vcpu(const struct stub *s, int64_t tid, uint32_t *vcpu)
{
    if (tid < 1 || tid > (int64_t)s->nvcpus)
        return false;
    *vcpu = (uint32_t)(tid - 1);
    return true;
}

enum microvmi_status stub_address_space(struct stub *s, uint32_t vcpu,
                                        struct microvmi_address_space *as)
{
    return microvmi_vcpu_address_space(s->vm, vcpu < s->nvcpus ? vcpu : 0, as);
}

enum microvmi_status stub_gva_to_gpa(struct stub *s, uint32_t vcpu, uint64_t gva, uint64_t *gpa)
{
    if (s->phys) {
        *gpa = gva;
        return MICROVMI_OK;
    }
    struct microvmi_address_space as;
    enum microvmi_status st = stub_address_space(s, vcpu, &as);
    if (st != MICROVMI_OK)
        return st;
    struct microvmi_translation t;
    st = microvmi_translate(s->vm, &as, gva, &t);
    if (st == MICROVMI_OK)
        *gpa = t.gpa;
    return st;
}
