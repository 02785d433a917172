/* guest.unicorn_smoke: runs the guest under raw Unicorn 2.0.1 from the 64-bit entry, with exactly
 * the machine state README.md promises to a driver, on three vCPUs (ids 0, 1 and 8) round-robin in
 * one thread, delivering interrupts through the guest's IDT the way the emu driver must. Checks the
 * guest, not a driver: serial says "guest: up", never "panic"; every probe's counter moves; id 8
 * parks at the entry.
 * It also pins down a Unicorn 2.0.1 trap every IDT-delivering driver must handle: a hook-handled
 * exception never resets env->old_exception, so the guest's second #PF would arrive as #DF. The fix
 * used here (find the field in a saved context, reset it after delivery) is the one to copy. */
#include <elf.h>
#include <gelf.h>
#include <fcntl.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unicorn/unicorn.h>
#include <unistd.h>

#define RAM_SIZE (32u << 20)
#define NCPU 3
#define SLICE_INSNS 20000
#define SLICES 1500
#define SERIAL_MAX 65536

struct machine {
  uint8_t *ram;
  uc_engine *uc[NCPU];
  uint64_t pc[NCPU];
  bool parked[NCPU];
  char serial[SERIAL_MAX];
  size_t serial_len;
  uc_context *reset_ctx; /* saved before any exception: old_exception == -1 there */
  long old_exception_index; /* int32 index into a saved context, -1 until found */
  unsigned delivered[256];
  const char *failure;
};

struct symbols {
  uint64_t entry, counter, percpu, int3, exc, softint, msr_last, cpuid_last, cr3_a, cr3_b, self_int3,
      pf_probe;
};

static int fail(const char *what) {
  printf("FAIL: %s\n", what);
  return 1;
}

static uint64_t reg(uc_engine *uc, int r) {
  uint64_t v = 0;
  uc_reg_read(uc, r, &v);
  return v;
}
static void set_reg(uc_engine *uc, int r, uint64_t v) { uc_reg_write(uc, r, &v); }
static uint64_t ram_u64(const struct machine *m, uint64_t a) {
  uint64_t v;
  memcpy(&v, m->ram + a, 8);
  return v;
}

/* Loads PT_LOADs (zero-filling p_memsz past p_filesz: RAM starts zeroed) and the symbols. */
static int load_guest(const char *path, struct machine *m, struct symbols *s) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return fail("cannot open the guest ELF");
  elf_version(EV_CURRENT);
  Elf *e = elf_begin(fd, ELF_C_READ, NULL);
  GElf_Ehdr eh;
  size_t nph = 0;
  int rc = 0;
  if (!e || !gelf_getehdr(e, &eh) || elf_getphdrnum(e, &nph)) {
    rc = fail("not an ELF file");
    goto out;
  }
  s->entry = eh.e_entry;
  size_t size = 0;
  const char *image = elf_rawfile(e, &size);
  for (size_t i = 0; i < nph && !rc; i++) {
    GElf_Phdr ph;
    if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD) continue;
    if (ph.p_paddr + ph.p_memsz > RAM_SIZE || ph.p_offset + ph.p_filesz > size || ph.p_filesz > ph.p_memsz)
      rc = fail("PT_LOAD outside RAM or file");
    else
      memcpy(m->ram + ph.p_paddr, image + ph.p_offset, ph.p_filesz);
  }
  struct { const char *name; uint64_t *at; } want[] = {
      {"guest_counter", &s->counter}, {"guest_percpu_counter", &s->percpu},
      {"guest_int3_count", &s->int3}, {"guest_exception_count", &s->exc},
      {"guest_softint_count", &s->softint}, {"guest_msr_last", &s->msr_last},
      {"guest_cpuid_last", &s->cpuid_last}, {"guest_cr3_a", &s->cr3_a}, {"guest_cr3_b", &s->cr3_b},
      {"guest_self_int3", &s->self_int3}, {"guest_pf_probe", &s->pf_probe}};
  Elf_Scn *scn = NULL;
  while ((scn = elf_nextscn(e, scn))) {
    GElf_Shdr sh;
    if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize) continue;
    Elf_Data *d = elf_getdata(scn, NULL);
    for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
      GElf_Sym sym;
      const char *name = gelf_getsym(d, (int)i, &sym) ? elf_strptr(e, sh.sh_link, sym.st_name) : NULL;
      for (size_t w = 0; name && w < sizeof want / sizeof want[0]; w++)
        if (!strcmp(name, want[w].name)) *want[w].at = sym.st_value;
    }
  }
  for (size_t w = 0; w < sizeof want / sizeof want[0] && !rc; w++)
    if (!*want[w].at) rc = fail(want[w].name);
out:
  if (e) elf_end(e);
  close(fd);
  return rc;
}

/* The driver's boot state (README.md "64-bit entry"): GDT at 0x800, page tables at 0x1000. */
static void write_boot_tables(struct machine *m) {
  uint64_t gdt[3] = {0, 0x00af9b000000ffffull, 0x00cf93000000ffffull};
  memcpy(m->ram + 0x800, gdt, sizeof gdt);
  uint64_t *q = (uint64_t *)(void *)m->ram;
  q[0x1000 / 8] = 0x2000 | 3;
  for (uint64_t i = 0; i < 4; i++) q[0x2000 / 8 + i] = (0x3000 + i * 0x1000) | 3;
  for (uint64_t i = 0; i < 2048; i++) q[0x3000 / 8 + i] = (i << 21) | 0x83;
}

static void reset_old_exception(struct machine *m, uc_engine *uc, uint32_t vector) {
  uc_context *now;
  if (uc_context_alloc(uc, &now)) return;
  uc_context_save(uc, now);
  int32_t *cur = (int32_t *)(void *)now, *base = (int32_t *)(void *)m->reset_ctx;
  size_t n = uc_context_size(uc) / 4;
  if (m->old_exception_index < 0 && vector == 14) {
    int hits = 0;
    for (size_t i = 0; i < n; i++)
      if (base[i] == -1 && cur[i] == 14 && !hits++) m->old_exception_index = (long)i;
    if (hits != 1) m->failure = "could not find Unicorn's old_exception field";
  }
  if (m->old_exception_index >= 0 && cur[m->old_exception_index] != -1) {
    cur[m->old_exception_index] = -1;
    uc_context_restore(uc, now);
  }
  uc_context_free(now);
}

static bool has_error_code(uint32_t v) {
  return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21 || v == 29 || v == 30;
}

/* What a CPU does for a CPL-0 interrupt gate in long mode, no IST. */
static void deliver(struct machine *m, uc_engine *uc, uint32_t vector) {
  m->delivered[vector & 255]++;
  uc_x86_mmr idtr = {0};
  uc_reg_read(uc, UC_X86_REG_IDTR, &idtr);
  if (idtr.limit < vector * 16 + 15 || idtr.base + vector * 16 + 16 > RAM_SIZE) {
    m->failure = "exception before the guest loaded an IDT";
    uc_emu_stop(uc);
    return;
  }
  const uint8_t *g = m->ram + idtr.base + vector * 16;
  uint64_t target = (uint64_t)g[0] | (uint64_t)g[1] << 8 | (uint64_t)g[6] << 16 | (uint64_t)g[7] << 24 |
                    (uint64_t)(g[8] | g[9] << 8 | g[10] << 16 | (uint32_t)g[11] << 24) << 32;
  uint64_t old_rsp = reg(uc, UC_X86_REG_RSP), rflags = reg(uc, UC_X86_REG_RFLAGS);
  uint64_t frame[6] = {0 /* error code: 0 fits every planned fault */, reg(uc, UC_X86_REG_RIP),
                       reg(uc, UC_X86_REG_CS), rflags, old_rsp, reg(uc, UC_X86_REG_SS)};
  int words = has_error_code(vector) ? 6 : 5;
  uint64_t rsp = (old_rsp & ~0xfull) - (uint64_t)words * 8;
  if (rsp + (uint64_t)words * 8 > RAM_SIZE) {
    m->failure = "guest stack outside RAM";
    uc_emu_stop(uc);
    return;
  }
  memcpy(m->ram + rsp, frame + (6 - words), (size_t)words * 8);
  set_reg(uc, UC_X86_REG_RSP, rsp);
  set_reg(uc, UC_X86_REG_RIP, target);
  set_reg(uc, UC_X86_REG_RFLAGS, rflags & ~0x200ull);
}

static void on_interrupt(uc_engine *uc, uint32_t vector, void *user) {
  struct machine *m = user;
  reset_old_exception(m, uc, vector);
  deliver(m, uc, vector); /* rip: past int3 / int n, at the faulting insn otherwise */
}
static bool on_invalid(uc_engine *uc, void *user) {
  deliver(user, uc, 6);
  return true;
}
static uint32_t on_in(uc_engine *uc, uint32_t port, int size, void *user) {
  (void)uc, (void)size, (void)user;
  return port == 0x3fd ? 0x60 : 0; /* UART line status: transmitter empty */
}
static void on_out(uc_engine *uc, uint32_t port, int size, uint32_t value, void *user) {
  struct machine *m = user;
  (void)uc, (void)size;
  if (port == 0x3f8 && m->serial_len < SERIAL_MAX - 1) m->serial[m->serial_len++] = (char)value;
}

static int start_vcpu(struct machine *m, int i, uint64_t id, uint64_t entry) {
  uc_engine *uc;
  uc_hook h;
  if (uc_open(UC_ARCH_X86, UC_MODE_64, &uc) || uc_mem_map_ptr(uc, 0, RAM_SIZE, UC_PROT_ALL, m->ram))
    return fail("unicorn engine setup");
  m->uc[i] = uc;
  if (uc_hook_add(uc, &h, UC_HOOK_INTR, (void *)on_interrupt, m, 1, 0) ||
      uc_hook_add(uc, &h, UC_HOOK_INSN_INVALID, (void *)on_invalid, m, 1, 0) ||
      uc_hook_add(uc, &h, UC_HOOK_INSN, (void *)on_in, m, 1, 0, UC_X86_INS_IN) ||
      uc_hook_add(uc, &h, UC_HOOK_INSN, (void *)on_out, m, 1, 0, UC_X86_INS_OUT))
    return fail("unicorn hooks");
  uc_x86_mmr gdtr = {0, 0x800, 23, 0};
  uc_x86_msr efer = {0xC0000080, 0xd01};
  uc_reg_write(uc, UC_X86_REG_GDTR, &gdtr);
  set_reg(uc, UC_X86_REG_CR4, 0x6a0);
  set_reg(uc, UC_X86_REG_CR3, 0x1000);
  uc_reg_write(uc, UC_X86_REG_MSR, &efer);
  set_reg(uc, UC_X86_REG_CR0, 0x80050033);
  set_reg(uc, UC_X86_REG_RDI, id);
  set_reg(uc, UC_X86_REG_RSI, 2); /* ids 0 and 1 run; 8 is out of range */
  set_reg(uc, UC_X86_REG_RSP, 0);
  set_reg(uc, UC_X86_REG_RFLAGS, 2);
  m->pc[i] = entry;
  if (i == 0 && (uc_context_alloc(uc, &m->reset_ctx) || uc_context_save(uc, m->reset_ctx)))
    return fail("unicorn context");
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 2) return fail("usage: unicorn_smoke microvmi-guest.elf");
  static struct machine m;
  struct symbols s = {0};
  m.old_exception_index = -1;
  m.ram = calloc(1, RAM_SIZE);
  if (!m.ram || load_guest(argv[1], &m, &s)) return 1;
  write_boot_tables(&m);
  const uint64_t ids[NCPU] = {0, 1, 8};
  for (int i = 0; i < NCPU; i++)
    if (start_vcpu(&m, i, ids[i], s.entry)) return 1;

  for (long n = 0; n < SLICES && !m.failure; n++) {
    int i = (int)(n % NCPU);
    if (m.parked[i]) continue;
    uc_err err = uc_emu_start(m.uc[i], m.pc[i], 0, 0, SLICE_INSNS);
    m.pc[i] = reg(m.uc[i], UC_X86_REG_RIP);
    if (err) m.failure = uc_strerror(err);
    if (m.pc[i] > 0 && m.pc[i] < RAM_SIZE && m.ram[m.pc[i] - 1] == 0xf4) m.parked[i] = true; /* hlt */
  }
  m.serial[m.serial_len] = 0;

  int rc = 0;
  uint64_t c = ram_u64(&m, s.counter), int3 = ram_u64(&m, s.int3), soft = ram_u64(&m, s.softint);
  uint64_t exc[32];
  memcpy(exc, m.ram + s.exc, sizeof exc);
  uint64_t rounds = (c + 63) / 64;
  printf("ticks %lu (vCPU0 %lu, vCPU1 %lu), int3 %lu, #UD %lu, #PF %lu, int 0x81 %lu\n", (unsigned long)c,
         (unsigned long)ram_u64(&m, s.percpu), (unsigned long)ram_u64(&m, s.percpu + 8), (unsigned long)int3,
         (unsigned long)exc[6], (unsigned long)exc[14], (unsigned long)soft);
  if (m.failure) rc |= fail(m.failure);
  if (!strstr(m.serial, "guest: up\n")) rc |= fail("no 'guest: up' on COM1");
  if (strstr(m.serial, "panic")) rc |= fail(strstr(m.serial, "panic"));
  if (!strstr(m.serial, "tick 1024\n")) rc |= fail("no 'tick 1024' on COM1");
  if (ram_u64(&m, s.percpu) == 0 || ram_u64(&m, s.percpu + 8) == 0) rc |= fail("a vCPU never ticked");
  if (c < 64 * 16) rc |= fail("fewer than 1024 ticks");
  if (int3 + 1 < c / 16 || int3 > c / 16 || exc[3] != int3) rc |= fail("guest_int3_count off");
  if (exc[14] + 2 < rounds || exc[14] > rounds || soft + 2 < rounds || soft > rounds)
    rc |= fail("#PF or int 0x81 probe count off");
  if (exc[6] + 4 < 2 * rounds || exc[6] > 2 * rounds) rc |= fail("#UD count off (vmcall + xsetbv per round)");
  for (int v = 0; v < 32; v++)
    if (v != 3 && v != 6 && v != 14 && exc[v]) rc |= fail("unexpected exception counted");
  if (!m.parked[2] || reg(m.uc[2], UC_X86_REG_CR3) != 0x1000) rc |= fail("vCPU id 8 did not park at the entry");
  if (ram_u64(&m, s.cr3_a) == ram_u64(&m, s.cr3_b) || !ram_u64(&m, s.cr3_a)) rc |= fail("guest_cr3_a/b");
  uint32_t max_leaf;
  memcpy(&max_leaf, m.ram + s.cpuid_last, 4);
  if (!max_leaf) rc |= fail("guest_cpuid_last not stored");
  if (((ram_u64(&m, s.msr_last) - 0x6d6963726f766d69ull) & 0x00007fffffffffffull) % 64 != 1)
    rc |= fail("guest_msr_last is not (base + probe tick) & mask");
  for (int i = 0; i < NCPU; i++) uc_close(m.uc[i]);
  uc_context_free(m.reset_ctx);
  free(m.ram);
  if (!rc) printf("guest under Unicorn: OK\n");
  return rc;
}
