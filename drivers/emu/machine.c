/*
 * The machine: guest RAM (one host mapping shared by every engine), one
 * Unicorn engine per vCPU, the ELF loader, the boot state of the guest's
 * "64-bit entry" contract (tests/guest/README.md), and COM1.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "emu.h"

#define BOOT_GDT 0x800ull
#define BOOT_PML4 0x1000ull
#define BOOT_PDPT 0x2000ull
#define BOOT_PD 0x3000ull
#define BOOT_TABLES_END 0x7000ull
#define BOOT_CR0 0x80050033ull
#define BOOT_CR4 0x000006a0ull
#define BOOT_EFER 0xd01ull
#define MSR_EFER 0xc0000080u
#define COM1 0x3f8u
#define PTE_P 1ull
#define PTE_W 2ull
#define PTE_PS 0x80ull

static const uint64_t boot_gdt[3] = {0, 0x00af9a000000ffffull, 0x00cf92000000ffffull};

bool emu_gpa_ok(const struct emu *emu, uint64_t gpa, uint64_t len)
{
    return gpa < emu->ram_size && len <= emu->ram_size - gpa;
}

static void serial_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *user)
{
    (void)uc;
    (void)size;
    struct emu *emu = user;
    static const uint32_t lcr = COM1 + 3;
    /* The divisor latch shares the data port while LCR.DLAB is set. */
    if (port == lcr)
        emu->serial_dlab = (value & 0x80) != 0;
    else if (port == COM1 && !emu->serial_dlab && emu->serial) {
        fputc((int)(value & 0xff), emu->serial);
        if ((value & 0xff) == '\n')
            fflush(emu->serial);
    }
}

static uint32_t serial_in(uc_engine *uc, uint32_t port, int size, void *user)
{
    (void)uc;
    (void)size;
    (void)user;
    /* Line status: transmitter empty and idle, so polling guests never wait. */
    return port == COM1 + 5 ? 0x60 : 0;
}

/* Unicorn does not emulate syscall (DESIGN.md): do what the CPU would. */
static void do_syscall(uc_engine *uc, void *user)
{
    struct emu_vcpu *v = user;
    (void)uc;
    uint64_t rip = emu_reg(v, UC_X86_REG_RIP);
    uint64_t rflags = emu_reg(v, UC_X86_REG_RFLAGS);
    emu_set_reg(v, UC_X86_REG_RCX, rip);
    emu_set_reg(v, UC_X86_REG_R11, rflags);
    emu_set_reg(v, UC_X86_REG_RFLAGS, rflags & ~emu_msr(v, 0xc0000084u));
    emu_set_reg(v, UC_X86_REG_RIP, emu_msr(v, 0xc0000082u));
}

void emu_invalidate_vcpu(struct emu_vcpu *v, uint64_t gpa, uint64_t len)
{
    if (!len)
        return;
    /* uc_ctl_remove_cache translates through the guest's page tables and,
     * when that faults, leaves the fault address in CR2: keep the guest's. */
    uint64_t cr2 = emu_reg(v, UC_X86_REG_CR2);
    uint64_t first = gpa & ~0xfffull, end = gpa + len;
    for (uint64_t a = first; a < end; a += MICROVMI_PAGE_SIZE)
        uc_ctl_remove_cache(v->uc, a, a + MICROVMI_PAGE_SIZE);
    emu_set_reg(v, UC_X86_REG_CR2, cr2);
    /* Those faults also count as exceptions in flight (#PF, then #DF...). */
    emu_quirk_clear_old_exception(v);
}

void emu_invalidate_all(struct emu_vcpu *v)
{
    emu_invalidate_vcpu(v, 0, v->emu->ram_size);
}

void emu_invalidate(struct emu *emu, uint64_t gpa, uint64_t len)
{
    for (uint32_t i = 0; i < emu->nvcpus; i++)
        emu_invalidate_vcpu(&emu->vcpu[i], gpa, len);
}

static void write_boot_tables(struct emu *emu)
{
    uint64_t *pml4 = (uint64_t *)(emu->ram + BOOT_PML4);
    uint64_t *pdpt = (uint64_t *)(emu->ram + BOOT_PDPT);
    uint64_t *pd = (uint64_t *)(emu->ram + BOOT_PD);
    memset(emu->ram + BOOT_PML4, 0, BOOT_TABLES_END - BOOT_PML4);
    pml4[0] = BOOT_PDPT | PTE_P | PTE_W;
    for (unsigned i = 0; i < 4; i++)
        pdpt[i] = (BOOT_PD + i * MICROVMI_PAGE_SIZE) | PTE_P | PTE_W;
    for (uint64_t i = 0; i < 4 * 512; i++)
        pd[i] = (i << 21) | PTE_P | PTE_W | PTE_PS;
    memcpy(emu->ram + BOOT_GDT, boot_gdt, sizeof boot_gdt);
}

static enum microvmi_status fail_elf(struct emu *emu, const char *what)
{
    return microvmi_fail(emu->vm, MICROVMI_INIT_FAILED, "emu: kernel %s: %s", emu->kernel, what);
}

static enum microvmi_status load_elf(struct emu *emu)
{
    int fd = open(emu->kernel, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return microvmi_fail(emu->vm, MICROVMI_INIT_FAILED,
                             "emu: cannot open kernel %s: %s (give kernel=PATH to an x86-64 "
                             "ELF, e.g. the bundled guest <build>/guest/microvmi-guest.elf)",
                             emu->kernel, strerror(errno));
    enum microvmi_status st = MICROVMI_OK;
    elf_version(EV_CURRENT);
    Elf *elf = elf_begin(fd, ELF_C_READ, NULL);
    GElf_Ehdr eh;
    size_t nph = 0;
    if (!elf || elf_kind(elf) != ELF_K_ELF || !gelf_getehdr(elf, &eh) ||
        elf_getphdrnum(elf, &nph) != 0) {
        st = fail_elf(emu, "not an ELF file");
        goto out;
    }
    if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64) {
        st = fail_elf(emu, "not an x86-64 ELF64 kernel: the emu driver boots 64-bit guests "
                           "at e_entry in long mode (tests/guest/README.md)");
        goto out;
    }
    size_t loaded = 0;
    for (size_t i = 0; i < nph && st == MICROVMI_OK; i++) {
        GElf_Phdr ph;
        if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || ph.p_memsz == 0)
            continue;
        char msg[256];
        if (ph.p_filesz > ph.p_memsz || !emu_gpa_ok(emu, ph.p_paddr, ph.p_memsz)) {
            snprintf(msg, sizeof msg,
                     "segment at physical 0x%" PRIx64 " (+0x%" PRIx64 ") lies outside the "
                     "guest's 0x%" PRIx64 " bytes of RAM (raise mem=)",
                     (uint64_t)ph.p_paddr, (uint64_t)ph.p_memsz, emu->ram_size);
            st = fail_elf(emu, msg);
            break;
        }
        if (ph.p_paddr < BOOT_TABLES_END) {
            snprintf(msg, sizeof msg,
                     "segment at physical 0x%" PRIx64 " overlaps the boot page tables "
                     "and GDT the driver writes below 0x7000",
                     (uint64_t)ph.p_paddr);
            st = fail_elf(emu, msg);
            break;
        }
        if (ph.p_vaddr != ph.p_paddr && emu->uc_major == 2 && emu->uc_minor < 1) {
            snprintf(msg, sizeof msg,
                     "segment virtual 0x%" PRIx64 " != physical 0x%" PRIx64 ": Unicorn %u.%u "
                     "needs identity-mapped guests (virtual == physical)",
                     (uint64_t)ph.p_vaddr, (uint64_t)ph.p_paddr, emu->uc_major, emu->uc_minor);
            st = fail_elf(emu, msg);
            break;
        }
        memset(emu->ram + ph.p_paddr, 0, ph.p_memsz);
        if (ph.p_filesz &&
            pread(fd, emu->ram + ph.p_paddr, ph.p_filesz, (off_t)ph.p_offset) !=
                (ssize_t)ph.p_filesz) {
            st = fail_elf(emu, "truncated segment");
            break;
        }
        loaded++;
    }
    if (st == MICROVMI_OK && !loaded)
        st = fail_elf(emu, "no PT_LOAD segment");
    if (st == MICROVMI_OK && !emu_gpa_ok(emu, eh.e_entry, 1))
        st = fail_elf(emu, "entry point outside guest RAM");
    emu->entry = eh.e_entry;
out:
    if (elf)
        elf_end(elf);
    close(fd);
    return st;
}

static enum microvmi_status boot_vcpu(struct emu *emu, struct emu_vcpu *v)
{
    if (uc_open(UC_ARCH_X86, UC_MODE_64, &v->uc) != UC_ERR_OK)
        return microvmi_fail(emu->vm, MICROVMI_INIT_FAILED, "emu: uc_open failed");
    if (uc_mem_map_ptr(v->uc, 0, emu->ram_size, UC_PROT_ALL, emu->ram) != UC_ERR_OK)
        return microvmi_fail(emu->vm, MICROVMI_INIT_FAILED,
                             "emu: cannot map %" PRIu64 " bytes of guest RAM in Unicorn",
                             emu->ram_size);
    uc_x86_mmr gdtr = {.base = BOOT_GDT, .limit = sizeof boot_gdt - 1};
    uc_x86_mmr idtr = {.base = 0, .limit = 0};
    uc_reg_write(v->uc, UC_X86_REG_GDTR, &gdtr);
    uc_reg_write(v->uc, UC_X86_REG_IDTR, &idtr);
    emu_set_msr(v, MSR_EFER, BOOT_EFER);
    emu_set_reg(v, UC_X86_REG_CR4, BOOT_CR4);
    emu_set_reg(v, UC_X86_REG_CR3, BOOT_PML4);
    emu_set_reg(v, UC_X86_REG_CR0, BOOT_CR0);
    emu_set_reg(v, UC_X86_REG_CS, 0x08);
    emu_set_reg(v, UC_X86_REG_SS, 0x10);
    emu_set_reg(v, UC_X86_REG_DS, 0x10);
    emu_set_reg(v, UC_X86_REG_ES, 0x10);
    emu_set_reg(v, UC_X86_REG_FS, 0x10);
    emu_set_reg(v, UC_X86_REG_GS, 0x10);
    emu_set_reg(v, UC_X86_REG_RFLAGS, 0x2);
    emu_set_reg(v, UC_X86_REG_RDI, v->id);
    emu_set_reg(v, UC_X86_REG_RSI, emu->nvcpus);
    emu_set_reg(v, UC_X86_REG_RSP, 0);
    emu_set_reg(v, UC_X86_REG_RIP, emu->entry);
    v->xcr0 = 1;
    v->skip_addr = EMU_NO_ADDR;
    for (int i = 0; i < 4; i++)
        v->drbp_applied[i] = EMU_NO_ADDR;

    uc_err e = uc_hook_add(v->uc, &v->h_out, UC_HOOK_INSN, (void *)serial_out, emu, 1, 0,
                           UC_X86_INS_OUT);
    if (e == UC_ERR_OK)
        e = uc_hook_add(v->uc, &v->h_in, UC_HOOK_INSN, (void *)serial_in, emu, 1, 0,
                        UC_X86_INS_IN);
    if (e == UC_ERR_OK)
        e = uc_hook_add(v->uc, &v->h_syscall, UC_HOOK_INSN, (void *)do_syscall, v, 1, 0,
                        UC_X86_INS_SYSCALL);
    if (e != UC_ERR_OK)
        return microvmi_fail(emu->vm, MICROVMI_INIT_FAILED, "emu: uc_hook_add: %s",
                             uc_strerror(e));
    emu_hooks_install(v);
    if (emu->old_exc_off >= 0 && uc_context_alloc(v->uc, &v->ctx) != UC_ERR_OK)
        v->ctx = NULL;
    return MICROVMI_OK;
}

static enum microvmi_status open_serial(struct emu *emu, const char *path)
{
    if (!path || !*path)
        return MICROVMI_OK;
    if (strcmp(path, "-") == 0) {
        emu->serial = stderr;
        return MICROVMI_OK;
    }
    emu->serial = fopen(path, "we");
    if (!emu->serial)
        return microvmi_fail(emu->vm, MICROVMI_INIT_FAILED, "emu: cannot open serial=%s: %s",
                             path, strerror(errno));
    emu->serial_owned = true;
    return MICROVMI_OK;
}

static const char *default_kernel(void)
{
#ifdef MICROVMI_BUILD_GUEST
    if (access(MICROVMI_BUILD_GUEST, R_OK) == 0)
        return MICROVMI_BUILD_GUEST;
#endif
#ifdef MICROVMI_INSTALLED_GUEST
    if (access(MICROVMI_INSTALLED_GUEST, R_OK) == 0)
        return MICROVMI_INSTALLED_GUEST;
#endif
    return NULL;
}

enum microvmi_status emu_machine_open(struct emu *emu, const struct microvmi_params *params)
{
    uc_version(&emu->uc_major, &emu->uc_minor);
    emu->old_exc_off = emu_quirk_find_old_exception();
    uint64_t nvcpus = 0, mem = 0;
    enum microvmi_status st = microvmi_param_u64(emu->vm, params, "vcpus", 2, &nvcpus);
    if (st != MICROVMI_OK)
        return st;
    st = microvmi_param_u64(emu->vm, params, "mem", 64ull << 20, &mem);
    if (st != MICROVMI_OK)
        return st;
    if (nvcpus < 1 || nvcpus > EMU_MAX_VCPUS)
        return microvmi_fail(emu->vm, MICROVMI_INVALID_ARG, "emu: vcpus=%" PRIu64
                             " is out of range (1..%d)", nvcpus, EMU_MAX_VCPUS);
    if (mem < (1ull << 20) || mem > (4ull << 30) || (mem & 0xfff))
        return microvmi_fail(emu->vm, MICROVMI_INVALID_ARG,
                             "emu: mem=%" PRIu64 " must be a multiple of 4K between 1M and 4G",
                             mem);
    const char *kernel = microvmi_param(params, "kernel");
    if (!kernel)
        kernel = default_kernel();
    if (!kernel)
        return microvmi_fail(emu->vm, MICROVMI_INIT_FAILED,
                             "emu: no kernel= given and the bundled guest is neither built "
                             "nor installed (build the target microvmi_guest)");
    snprintf(emu->kernel, sizeof emu->kernel, "%s", kernel);
    emu->nvcpus = (uint32_t)nvcpus;
    emu->ram_size = mem;
    emu->npages = mem / MICROVMI_PAGE_SIZE;
    emu->ram = mmap(NULL, mem, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                    -1, 0);
    if (emu->ram == MAP_FAILED) {
        emu->ram = NULL;
        return microvmi_fail(emu->vm, MICROVMI_OUT_OF_MEMORY,
                             "emu: cannot allocate %" PRIu64 " bytes of guest RAM", mem);
    }
    if ((st = load_elf(emu)) != MICROVMI_OK)
        return st;
    if ((st = open_serial(emu, microvmi_param(params, "serial"))) != MICROVMI_OK)
        return st;
    write_boot_tables(emu);
    if (cs_open(CS_ARCH_X86, CS_MODE_64, &emu->cs) != CS_ERR_OK)
        return microvmi_fail(emu->vm, MICROVMI_INIT_FAILED, "emu: capstone cs_open failed");
    cs_option(emu->cs, CS_OPT_DETAIL, CS_OPT_ON);
    if ((st = emu_slat_init(emu)) != MICROVMI_OK)
        return st;
    for (uint32_t i = 0; i < emu->nvcpus; i++) {
        struct emu_vcpu *v = &emu->vcpu[i];
        v->emu = emu;
        v->id = i;
        if ((st = boot_vcpu(emu, v)) != MICROVMI_OK)
            return st;
    }
    return MICROVMI_OK;
}

void emu_machine_close(struct emu *emu)
{
    for (uint32_t i = 0; i < EMU_MAX_VCPUS; i++) {
        struct emu_vcpu *v = &emu->vcpu[i];
        emu_sites_clear(v);
        free(v->sites);
        if (v->ctx)
            uc_context_free(v->ctx);
        v->ctx = NULL;
        if (v->uc)
            uc_close(v->uc);
        v->uc = NULL;
    }
    emu_slat_close(emu);
    if (emu->cs)
        cs_close(&emu->cs);
    if (emu->serial) {
        fflush(emu->serial);
        if (emu->serial_owned)
            fclose(emu->serial);
    }
    if (emu->ram)
        munmap(emu->ram, emu->ram_size);
    emu->ram = NULL;
}
