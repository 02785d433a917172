/*
 * The capability matrix: one row per capability, one column per compiled
 * driver, then each driver's parameters and limits. "text" for terminals,
 * "markdown" for the README (whose block a test keeps in sync).
 */
#include <string.h>

#include "driver.h"

static void print_text(FILE *out)
{
    size_t ncaps, ndrv = microvmi_driver_count();
    const struct microvmi_cap_info *caps = microvmi_capability_table(&ncaps);
    const int width = 34;

    fprintf(out, "%-*s", width, "capability");
    for (size_t d = 0; d < ndrv; d++)
        fprintf(out, " %-6s", microvmi_driver_at(d)->name);
    fputc('\n', out);
    for (size_t i = 0; i < ncaps; i++) {
        if (i == 0 || caps[i].group != caps[i - 1].group)
            fprintf(out, "%s\n", microvmi_cap_group_title(caps[i].group));
        fprintf(out, "  %-*s", width - 2, caps[i].title);
        for (size_t d = 0; d < ndrv; d++)
            fprintf(out, " %-6s",
                    (microvmi_driver_at(d)->capabilities & caps[i].bit) ? "yes" : "no");
        fputc('\n', out);
    }
    fputc('\n', out);
    for (size_t d = 0; d < ndrv; d++) {
        const struct microvmi_driver_info *info = microvmi_driver_at(d);
        fprintf(out, "%s: %s\n", info->name, info->description);
        fprintf(out, "  params: %s\n", info->params && *info->params ? info->params : "(none)");
        fprintf(out, "  limits: %s\n", info->limits && *info->limits ? info->limits : "(none)");
    }
}

static void print_markdown(FILE *out)
{
    size_t ncaps, ndrv = microvmi_driver_count();
    const struct microvmi_cap_info *caps = microvmi_capability_table(&ncaps);

    fputs("| capability |", out);
    for (size_t d = 0; d < ndrv; d++)
        fprintf(out, " %s |", microvmi_driver_at(d)->name);
    fputs("\n|---|", out);
    for (size_t d = 0; d < ndrv; d++)
        fputs("---|", out);
    fputc('\n', out);
    for (size_t i = 0; i < ncaps; i++) {
        if (i == 0 || caps[i].group != caps[i - 1].group) {
            fprintf(out, "| **%s** |", microvmi_cap_group_title(caps[i].group));
            for (size_t d = 0; d < ndrv; d++)
                fputs(" |", out);
            fputc('\n', out);
        }
        fprintf(out, "| %s |", caps[i].title);
        for (size_t d = 0; d < ndrv; d++)
            fprintf(out, " %s |",
                    (microvmi_driver_at(d)->capabilities & caps[i].bit) ? "✅" : "❌");
        fputc('\n', out);
    }
    fputc('\n', out);
    for (size_t d = 0; d < ndrv; d++) {
        const struct microvmi_driver_info *info = microvmi_driver_at(d);
        fprintf(out, "- **%s**: %s. Params: `%s`. Limits: %s\n", info->name, info->description,
                info->params && *info->params ? info->params : "(none)",
                info->limits && *info->limits ? info->limits : "none");
    }
}

enum microvmi_status microvmi_print_driver_matrix(FILE *out, const char *format)
{
    if (!out || !format)
        return MICROVMI_INVALID_ARG;
    if (strcmp(format, "text") == 0)
        print_text(out);
    else if (strcmp(format, "markdown") == 0)
        print_markdown(out);
    else
        return MICROVMI_INVALID_ARG;
    return ferror(out) ? MICROVMI_IO_ERROR : MICROVMI_OK;
}
