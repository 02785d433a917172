/* microvmi version | drivers | info | regs */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_version(struct cli *cli, microvmi_t *vm)
{
    (void)cli, (void)vm;
    printf("microvmi %s\n", MICROVMI_VERSION);
    return CLI_OK;
}

int cmd_drivers(struct cli *cli, microvmi_t *vm)
{
    (void)vm;
    if (microvmi_print_driver_matrix(stdout, cli->markdown ? "markdown" : "text") != MICROVMI_OK) {
        fprintf(stderr, "microvmi: cannot write the driver matrix\n");
        return CLI_FAILED;
    }
    return CLI_OK;
}

int cmd_info(struct cli *cli, microvmi_t *vm)
{
    (void)cli;
    printf("driver: %s\n", microvmi_driver_name(vm));
    uint32_t vcpus;
    if (microvmi_vcpu_count(vm, &vcpus) == MICROVMI_OK)
        printf("vcpus: %" PRIu32 "\n", vcpus);
    uint64_t gfn;
    if (microvmi_max_gfn(vm, &gfn) == MICROVMI_OK)
        printf("max_gfn: 0x%" PRIx64 " (%" PRIu64 " KiB of guest-physical space)\n", gfn,
               (gfn + 1) * 4);
    uint64_t caps = microvmi_capabilities(vm);
    size_t n;
    const struct microvmi_cap_info *table = microvmi_capability_table(&n);
    printf("capabilities:");
    for (size_t i = 0; i < n; i++)
        if (caps & table[i].bit)
            printf(" %s", table[i].name);
    printf("\n");
    char desc[4096];
    if (microvmi_describe(vm, desc, sizeof desc) == MICROVMI_OK && desc[0])
        printf("%s%s", desc, desc[strlen(desc) - 1] == '\n' ? "" : "\n");
    return CLI_OK;
}

static void segment(const char *name, const struct microvmi_segment *s)
{
    printf("%-4s sel=0x%04x base=0x%016" PRIx64 " limit=0x%08x attr=0x%04x\n", name, s->selector,
           s->base, s->limit, s->attributes);
}

int cmd_regs(struct cli *cli, microvmi_t *vm)
{
    struct microvmi_x86_regs r = { 0 };
    if (microvmi_read_registers(vm, cli->vcpu, &r) != MICROVMI_OK)
        return cli_vm_error(vm, "cannot read registers");
    printf("vcpu %" PRIu32 "\n", cli->vcpu);
    if (r.present & MICROVMI_REGS_GPR) {
        const char *names[] = { "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
                                "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15" };
        const uint64_t vals[] = { r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi, r.rbp, r.rsp,
                                  r.r8,  r.r9,  r.r10, r.r11, r.r12, r.r13, r.r14, r.r15 };
        for (int i = 0; i < 16; i++)
            printf("%-6s 0x%016" PRIx64 "%s", names[i], vals[i], i % 2 ? "\n" : "    ");
        printf("rip    0x%016" PRIx64 "    rflags 0x%016" PRIx64 "\n", r.rip, r.rflags);
    }
    if (r.present & MICROVMI_REGS_SEGMENTS) {
        segment("cs", &r.cs), segment("ss", &r.ss), segment("ds", &r.ds);
        segment("es", &r.es), segment("fs", &r.fs), segment("gs", &r.gs);
        segment("ldtr", &r.ldtr), segment("tr", &r.tr);
    }
    if (r.present & MICROVMI_REGS_DTABLES) {
        printf("gdtr base=0x%016" PRIx64 " limit=0x%04x\n", r.gdtr.base, r.gdtr.limit);
        printf("idtr base=0x%016" PRIx64 " limit=0x%04x\n", r.idtr.base, r.idtr.limit);
    }
    if (r.present & MICROVMI_REGS_CONTROL)
        printf("cr0 0x%" PRIx64 "  cr2 0x%" PRIx64 "  cr3 0x%" PRIx64 "  cr4 0x%" PRIx64
               "  cr8 0x%" PRIx64 "\n", r.cr0, r.cr2, r.cr3, r.cr4, r.cr8);
    if (r.present & MICROVMI_REGS_XCR0)
        printf("xcr0 0x%" PRIx64 "\n", r.xcr0);
    if (r.present & MICROVMI_REGS_DEBUG)
        printf("dr0 0x%" PRIx64 "  dr1 0x%" PRIx64 "  dr2 0x%" PRIx64 "  dr3 0x%" PRIx64
               "  dr6 0x%" PRIx64 "  dr7 0x%" PRIx64 "\n", r.dr0, r.dr1, r.dr2, r.dr3, r.dr6,
               r.dr7);
    if (r.present & MICROVMI_REGS_MSRS)
        printf("efer 0x%" PRIx64 "  star 0x%" PRIx64 "  lstar 0x%" PRIx64 "  cstar 0x%" PRIx64
               "  sfmask 0x%" PRIx64 "  kernel_gs_base 0x%" PRIx64 "\n"
               "sysenter_cs 0x%" PRIx64 "  sysenter_esp 0x%" PRIx64 "  sysenter_eip 0x%" PRIx64
               "\n", r.efer, r.star, r.lstar, r.cstar, r.sfmask, r.kernel_gs_base,
               r.sysenter_cs, r.sysenter_esp, r.sysenter_eip);
    if (r.present & MICROVMI_REGS_FPU)
        printf("fcw 0x%04x  fsw 0x%04x  mxcsr 0x%08x\n", r.fpu.fcw, r.fpu.fsw, r.fpu.mxcsr);
    return CLI_OK;
}
