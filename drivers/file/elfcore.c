/* placeholder replaced in step 4 */
#include "file.h"

enum microvmi_status file_elfcore_parse(int fd, uint64_t size, struct file_core *core, char *err,
                                        size_t errlen)
{
    (void)fd, (void)size, (void)core;
    snprintf(err, errlen, "ELF cores are not supported yet");
    return MICROVMI_NOT_SUPPORTED;
}
