/* The public view of the compiled-in drivers: their info blocks. */
#include <string.h>

#include "driver.h"

size_t microvmi_driver_count(void)
{
    return microvmi_driver_ops_count();
}

const struct microvmi_driver_info *microvmi_driver_at(size_t index)
{
    const struct microvmi_driver_ops *ops = microvmi_driver_ops_at(index);
    return ops ? &ops->info : NULL;
}

const struct microvmi_driver_ops *microvmi_driver_ops_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < microvmi_driver_ops_count(); i++) {
        const struct microvmi_driver_ops *ops = microvmi_driver_ops_at(i);
        if (strcmp(ops->info.name, name) == 0)
            return ops;
    }
    return NULL;
}

const struct microvmi_driver_info *microvmi_driver_find(const char *name)
{
    const struct microvmi_driver_ops *ops = microvmi_driver_ops_find(name);
    return ops ? &ops->info : NULL;
}
