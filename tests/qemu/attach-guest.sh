#!/usr/bin/env bash
# qemu.attach_guest: the qemu driver attached to a QEMU we start ourselves
# (the user's situation), with the bundled guest:
#  1. RAM file + QMP + gdbstub: CLI info/regs/read-phys/translate/dump; the
#     RAM file is found from QMP when mem= is not given; leaving mid-event
#     (breakpoint hit, watchpoint set) leaves the guest ticking.
#  2. QMP only (no gdbstub): info, regs (from HMP), memory.
#  3. no RAM file (plain -m): memory through the gdbstub, `info` says so.
# usage: attach-guest.sh MICROVMI_CLI GUEST.elf TEST_QEMU_API
set -uo pipefail
cli=${1:?} elf=${2:?} api=${3:?}
command -v qemu-system-x86_64 >/dev/null || { echo "skipped: qemu-system-x86_64 not installed"; exit 77; }
[ -f "$elf" ] || { echo "skipped: $elf not built (target microvmi_guest)"; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/qemu-attach.XXXXXX")
qpid=
cleanup() { [ -n "$qpid" ] && kill "$qpid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
sym() { printf '0x%x' "0x$(nm "$elf" | awk -v s="$1" '$3 == s {print $1}')"; }
tick=$(sym guest_tick) counter=$(sym guest_counter)
ticks() { local n; n=$(grep -c '^tick ' "$work/serial" 2>/dev/null); echo "${n:-0}"; }

start_qemu() { # $1: with RAM file (1/0)
  rm -f "$work"/*.sock "$work/serial"
  local mem=(-m 64)
  [ "$1" = 1 ] && mem=(-m 64 -object "memory-backend-file,id=ram0,size=64M,mem-path=$work/ram,share=on"
                       -machine pc,memory-backend=ram0)
  qemu-system-x86_64 -accel tcg "${mem[@]}" -display none -nodefaults -no-reboot \
    -kernel "$elf" -serial "file:$work/serial" -qmp "unix:$work/qmp.sock,server=on,wait=off" \
    -chardev "socket,id=g,path=$work/gdb.sock,server=on,wait=off" -gdb chardev:g \
    </dev/null >"$work/qemu.log" 2>&1 &
  qpid=$!
  for _ in $(seq 300); do [ "$(ticks)" -ge 2 ] && return 0; sleep 0.1; done
  bad "guest did not tick under QEMU: $(cat "$work/qemu.log")"; return 1
}
stop_qemu() { kill "$qpid" 2>/dev/null; wait "$qpid" 2>/dev/null; qpid=; }
ticking() { # the guest goes on: more tick lines within a few seconds
  local a; a=$(ticks)
  for _ in $(seq 100); do [ "$(ticks)" -gt "$a" ] && return 0; sleep 0.1; done
  bad "$1: the guest stopped ticking (still $a lines)"
}
run() { "$cli" --driver qemu "${P[@]}" "$@"; }

# 1. everything
start_qemu 1 || exit 1
P=(--param "qmp=$work/qmp.sock" --param "gdb=$work/gdb.sock" --param "mem=$work/ram")
out=$(run info 2>&1) || bad "info: $out"
grep -q "RAM file $work/ram" <<<"$out" || bad "info does not name the RAM file: $out"
grep -q "native_breakpoint" <<<"$out" || bad "info lacks native_breakpoint: $out"
regs=$(run regs 2>&1) || bad "regs: $regs"
grep -Eq "^cs +sel=0x0008 .*attr=0x0a9b" <<<"$regs" || bad "regs: cs not 64-bit code 0x08: $regs"
cr3=$(grep -o 'cr3 0x[0-9a-f]*' <<<"$regs" | cut -d' ' -f2)
[ -n "$cr3" ] && [ "$cr3" != 0x0 ] || bad "no cr3 in regs: $regs"
c1=$(run read-phys "$counter" 8 2>&1 | head -1); sleep 0.3
c2=$(run read-phys "$counter" 8 2>&1 | head -1)
[ -n "$c1" ] && [ "$c1" != "$c2" ] || bad "guest_counter does not move in the RAM file: '$c1' '$c2'"
tr=$(run translate "$cr3" "$counter" 2>&1) || bad "translate: $tr"
grep -q "gpa $counter " <<<"$tr" || bad "translate of identity-mapped guest_counter: $tr"
run dump --out "$work/dump" >/dev/null 2>&1 || bad "dump failed"
[ "$(stat -c %s "$work/dump" 2>/dev/null)" = $((64 << 20)) ] || bad "dump is not 64 MiB"
cmp -s -n 4096 -i 0x200000 "$work/dump" "$work/ram" || bad "dump differs from the RAM file at the guest image"
# mem= found from QMP (qom-get mem-path) when not given
P=(--param "qmp=$work/qmp.sock" --param "gdb=$work/gdb.sock")
out=$(run info 2>&1); grep -q "RAM file $work/ram" <<<"$out" || bad "RAM file not discovered: $out"
# leave mid-event: breakpoint hit and held, watchpoint set
"$api" "$elf" "$work/qmp.sock" "$work/gdb.sock" "$work/ram" || bad "attach_and_leave"
ticking "after detaching mid-event"
# and a debugger can attach again (QEMU's gdbstub free, no stale state)
P=(--param "qmp=$work/qmp.sock" --param "gdb=$work/gdb.sock")
out=$(run regs 2>&1) || bad "re-attach: $out"
ticking "after re-attach"

# 2. QMP only
P=(--param "qmp=$work/qmp.sock" --param "mem=$work/ram")
out=$(run info 2>&1) || bad "info (QMP only): $out"
grep -q "gdbstub: none" <<<"$out" || bad "info (QMP only) should say there is no gdbstub: $out"
out=$(run regs 2>&1) || bad "regs (QMP only): $out"
grep -q "rip" <<<"$out" || bad "regs (QMP only): $out"
ticking "after QMP-only attach"
stop_qemu

# 3. no RAM file: the gdbstub's physical mode
start_qemu 0 || exit 1
P=(--param "qmp=$work/qmp.sock" --param "gdb=$work/gdb.sock")
out=$(run info 2>&1) || bad "info (no RAM file): $out"
grep -q "slow path" <<<"$out" || bad "info should say memory goes the slow path: $out"
v1=$(run read-phys "$counter" 8 2>&1 | head -1)
grep -Eq "^0*$(printf %x $((counter))) " <<<"$v1" && ! grep -q "  00 00 00 00 00 00 00 00 " <<<"$v1" ||
  bad "read-phys of guest_counter through the gdbstub: $v1"
ticking "after the slow path"
stop_qemu
P=(--param "qmp=$work/nonexistent.sock")
out=$(run info 2>&1) && bad "attach to a missing socket succeeded"
grep -q "cannot connect" <<<"$out" || bad "no clear message for a missing QMP socket: $out"
# launch failures say why, quickly
out=$("$cli" --driver qemu --param launch=1 --param "kernel=$work/../$(basename "$work")-none" info 2>&1) &&
  bad "launch with a missing kernel succeeded"
grep -q "No such file" <<<"$out" || bad "missing kernel: $out"
echo "not a kernel" >"$work/bad-kernel"
out=$(timeout 20 "$cli" --driver qemu --param launch=1 --param "kernel=$work/bad-kernel" info 2>&1) &&
  bad "launch with a bad kernel succeeded"
grep -q "QEMU said\|QEMU exited" <<<"$out" || bad "bad kernel: no word from QEMU: $out"
[ $fail = 0 ] && echo ok
exit $fail
