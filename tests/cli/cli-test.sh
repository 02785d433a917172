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
run 1 "${dump[@]}" regs --vcpu 3

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
