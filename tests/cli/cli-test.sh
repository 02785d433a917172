#!/usr/bin/env bash
# Each `microvmi` subcommand once, on a raw dump made here (with 4-level page
# tables in it), plus the error paths: exit 1 for failed operations, 2 for
# bad command lines.
set -u
bin=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failures=0

fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# run EXPECTED_RC CMD...: runs, keeps stdout in $tmp/out and stderr in $tmp/err.
run() {
  local want=$1; shift
  "$bin" "$@" >"$tmp/out" 2>"$tmp/err"
  local rc=$?
  [ "$rc" -eq "$want" ] || fail "microvmi $* exited $rc, expected $want: $(head -c 300 "$tmp/err")"
}
expect_out() { grep -qF -- "$1" "$tmp/out" || fail "stdout lacks '$1': $(head -c 300 "$tmp/out")"; }
expect_err() { grep -qF -- "$1" "$tmp/err" || fail "stderr lacks '$1': $(head -c 300 "$tmp/err")"; }

# 32 KiB of memory: bytes (i*7)&255, then page tables at 0x1000-0x4000 mapping
# GVA 0x400000 -> 0x5000 and 0x401000 -> 0x7000 (4-level, CR3 0x1000).
python3 - "$tmp/mem.raw" <<'PY'
import struct, sys
mem = bytearray((i * 7) & 255 for i in range(8 * 4096))
def e(at, v): mem[at:at + 8] = struct.pack("<Q", v)
for page in range(1, 5):
    mem[page * 4096:(page + 1) * 4096] = bytes(4096)
e(0x1000, 0x2000 | 7); e(0x2000, 0x3000 | 7); e(0x3000 + 2 * 8, 0x4000 | 7)
e(0x4000, 0x5000 | 3); e(0x4008, 0x7000 | 3)
open(sys.argv[1], "wb").write(mem)
PY
dump=(--driver file --param "path=$tmp/mem.raw")

# An ELF64 core of the same memory with one vCPU's NT_PRSTATUS (pr_reg at
# 112: r15 r14 ... rip=0x401000 ... rsp=0x7000) for `regs`.
python3 - "$tmp/mem.raw" "$tmp/mem.core" <<'PY'
import struct, sys
mem = open(sys.argv[1], "rb").read()
regs = [0] * 27
regs[10] = 0x1234          # rax
regs[16] = 0x401000        # rip
regs[19] = 0x7000          # rsp
desc = bytes(112) + struct.pack("<27Q", *regs) + bytes(8)
note = struct.pack("<III", 5, len(desc), 1) + b"CORE\0\0\0\0" + desc
ehsz, phsz = 64, 56
note_off = ehsz + 2 * phsz
data_off = (note_off + len(note) + 4095) & ~4095
eh = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + struct.pack(
    "<HHIQQQIHHHHHH", 4, 62, 1, 0, ehsz, 0, 0, ehsz, phsz, 2, 0, 0, 0)
ph_note = struct.pack("<IIQQQQQQ", 4, 0, note_off, 0, 0, len(note), len(note), 4)
ph_load = struct.pack("<IIQQQQQQ", 1, 7, data_off, 0, 0, len(mem), len(mem), 4096)
out = bytearray(eh + ph_note + ph_load + note)
out += bytes(data_off - len(out)) + mem
open(sys.argv[2], "wb").write(out)
PY
core=(--driver file --param "path=$tmp/mem.core")

# version, help, drivers
run 0 version; expect_out "microvmi 0.1.0"
run 0 --help; expect_out "usage: microvmi"
run 0 drivers
rows=$(grep -cE ' (yes|no) *( (yes|no) *)*$' "$tmp/out")
[ "$rows" -eq 28 ] || fail "drivers: $rows capability rows, expected 28"
grep -q '^file: ' "$tmp/out" || fail "drivers: no file driver section"
[ "$(grep -c '^  limits: ' "$tmp/out")" -eq "$(grep -c '^  params: ' "$tmp/out")" ] ||
  fail "drivers: not one limits line per driver"
run 0 drivers --markdown
rows=$(grep -cE '^\| [^*].* \| (✅|❌) \|' "$tmp/out")
[ "$rows" -eq 28 ] || fail "drivers --markdown: $rows capability rows, expected 28"
expect_out "| capability | "

# info, regs
run 0 "${dump[@]}" info; expect_out "driver: file"; expect_out "max_gfn: 0x7"
expect_out "read_physical"
run 1 "${dump[@]}" regs; expect_err "raw dump has no registers"
run 0 "${core[@]}" regs; expect_out "rip    0x0000000000401000"; expect_out "rax    0x0000000000001234"
expect_out "rsp    0x0000000000007000"
run 1 "${core[@]}" regs --vcpu 3; expect_err "vCPU 3 does not exist"
run 0 "${core[@]}" info; expect_out "ELF64 core"; expect_out "vcpus: 1"
run 0 "${core[@]}" read-phys 0x5ff8 8; expect_out "0000000000005ff8  c8 cf d6 dd e4 eb f2 f9"

# read-phys: bytes at 0x5ff8.. are (i*7)&255
run 0 "${dump[@]}" read-phys 0x5ff8 16
expect_out "0000000000005ff8  c8 cf d6 dd e4 eb f2 f9  00 07 0e 15 1c 23 2a 31"
run 1 "${dump[@]}" read-phys 0x7ff0 0x20; expect_err "0x8000"
expect_out "0000000000007ff0"
run 1 "${dump[@]}" read-phys 0x100000 1; expect_err "guest-physical 0x100000"

# read-virt and translate through the tables
run 0 "${dump[@]}" translate 0x1000 0x400123 --paging 4level
expect_out "gva 0x400123 -> gpa 0x5123 (4 KiB page, writable, supervisor, executable"
run 0 "${dump[@]}" read-virt 0x1000 0x400ffc 8 --paging 4level
expect_out "0000000000400ffc  e4 eb f2 f9 00 07 0e 15"
run 1 "${dump[@]}" translate 0x1000 0x402000; expect_err "PTE at GPA 0x4010 is not present"
run 1 "${dump[@]}" read-virt 0x1000 0x401ff0 0x20; expect_err "virtual 0x402000"

# dump: the same bytes back
run 0 "${dump[@]}" dump --out "$tmp/copy.raw"
cmp -s "$tmp/mem.raw" "$tmp/copy.raw" || fail "dump differs from the source"
[ -s "$tmp/err" ] && fail "dump is not silent without a terminal: $(cat "$tmp/err")"
run 1 "${dump[@]}" dump --out "$tmp/no/such/dir/x.raw"; expect_err "cannot create"

# events: the file driver has none
run 1 "${dump[@]}" events --kind int3,cr3 --count 1; expect_err "does not support"

# auto-detection with the file driver's parameter
run 0 --param "path=$tmp/mem.raw" info; expect_out "driver: file"

# errors opening the VM
run 1 --driver file --param path=/nonexistent/dump info; expect_err "cannot open /nonexistent/dump"
run 2 --driver nosuch info; expect_err "no driver named 'nosuch'"
run 2 --driver file --param path=/x --param mem=1G info; expect_err "unknown parameter 'mem'"

# bad command lines
# A running VM (emu driver, bundled guest): commands that read vCPU state pause it around the read.
guest=$(dirname "$bin")/../guest/microvmi-guest.elf
if "$bin" drivers 2>/dev/null | grep -q '^emu:' && [ -f "$guest" ]; then
  emu=(--driver emu --param "kernel=$guest")
  run 0 "${emu[@]}" regs --vcpu 1; expect_out "vcpu 1"; expect_out "cr4 0x6a0"
  run 0 "${emu[@]}" translate 0x1000 0x200123
  expect_out "gva 0x200123 -> gpa 0x200123 (2 MiB page"
else
  echo "note: emu driver or bundled guest not built; running-VM checks not run"
fi

run 2
run 2 bogus; expect_err "unknown command 'bogus'"
run 2 --frobnicate info; expect_err "unknown option --frobnicate"
run 2 "${dump[@]}" read-phys 0x1000; expect_err "usage: microvmi read-phys ADDR LEN"
run 2 "${dump[@]}" read-phys zz 4; expect_err "ADDR 'zz' is not a number"
run 2 "${dump[@]}" read-phys 0 0
run 2 "${dump[@]}" read-phys 0 1G
run 2 "${dump[@]}" translate 0x1000 0x400000 --paging 6level; expect_err "--paging 6level"
run 2 "${dump[@]}" regs --vcpu x
run 2 "${dump[@]}" events; expect_err "events needs --kind"
run 2 "${dump[@]}" events --kind bogus; expect_err "'bogus' is not an event kind"
run 2 "${dump[@]}" events --kind int3 --count 0
run 2 "${dump[@]}" dump; expect_err "dump needs --out"
run 2 --param novalue info; expect_err "--param needs KEY=VALUE"

if [ "$failures" -ne 0 ]; then
  echo "$failures check(s) failed"
  exit 1
fi
echo "all CLI checks passed"
