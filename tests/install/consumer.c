/* A user of the installed library: <microvmi.h> only. */
#include <microvmi.h>
#include <stdio.h>

int main(void)
{
    size_t n = microvmi_driver_count();
    printf("microvmi %s: %zu drivers", MICROVMI_VERSION, n);
    for (size_t i = 0; i < n; i++)
        printf(" %s", microvmi_driver_at(i)->name);
    printf("\nstatus: %s\n", microvmi_status_str(MICROVMI_NOT_SUPPORTED));
    return n > 0 ? 0 : 1;
}
