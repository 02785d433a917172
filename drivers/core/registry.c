/* The compiled-in drivers, in auto-detect order: hypervisors first, the
 * emulator last because it always starts (it needs no running VM). */
#include "driver.h"

#ifdef MICROVMI_HAVE_DRIVER_XEN
extern const struct microvmi_driver_ops microvmi_driver_xen;
#endif
#ifdef MICROVMI_HAVE_DRIVER_KVMI
extern const struct microvmi_driver_ops microvmi_driver_kvmi;
#endif
#ifdef MICROVMI_HAVE_DRIVER_QEMU
extern const struct microvmi_driver_ops microvmi_driver_qemu;
#endif
#ifdef MICROVMI_HAVE_DRIVER_FILE
extern const struct microvmi_driver_ops microvmi_driver_file;
#endif
#ifdef MICROVMI_HAVE_DRIVER_EMU
extern const struct microvmi_driver_ops microvmi_driver_emu;
#endif

static const struct microvmi_driver_ops *const drivers[] = {
#ifdef MICROVMI_HAVE_DRIVER_XEN
    &microvmi_driver_xen,
#endif
#ifdef MICROVMI_HAVE_DRIVER_KVMI
    &microvmi_driver_kvmi,
#endif
#ifdef MICROVMI_HAVE_DRIVER_QEMU
    &microvmi_driver_qemu,
#endif
#ifdef MICROVMI_HAVE_DRIVER_FILE
    &microvmi_driver_file,
#endif
#ifdef MICROVMI_HAVE_DRIVER_EMU
    &microvmi_driver_emu,
#endif
    NULL,
};

size_t microvmi_driver_ops_count(void)
{
    return sizeof drivers / sizeof drivers[0] - 1;
}

const struct microvmi_driver_ops *microvmi_driver_ops_at(size_t index)
{
    return index < microvmi_driver_ops_count() ? drivers[index] : NULL;
}
