#!/usr/bin/env bash
# qemu.linux_cli: the microvmi CLI on real Linux (Debian's cloud kernel under
# QEMU TCG) through the qemu driver: info, regs, translate linux_banner on
# Linux's own page tables, read it, dump all RAM; the guest keeps running.
# usage: linux-cli.sh MICROVMI_CLI
set -uo pipefail
cli=${1:?}
. "$(dirname "$0")/linux-vm.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/qemu-linux-cli.XXXXXX")
trap 'linux_stop; rm -rf "$work"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
linux_boot "$work" 128
run() { "$cli" --driver qemu "${LINUX_PARAMS[@]}" "$@"; }

out=$(run info 2>&1) || bad "info: $out"
echo "$out"
grep -q "QEMU 7\|QEMU [89]\|QEMU [1-9][0-9]" <<<"$out" || bad "info: no QEMU version"
grep -q "RAM file" <<<"$out" || bad "info: no RAM file"
regs=$(run regs 2>&1) || bad "regs: $regs"
cr3=$(grep -o 'cr3 0x[0-9a-f]*' <<<"$regs" | cut -d' ' -f2)
grep -Eq "^cs +sel=0x0010 .*attr=0x0a9b" <<<"$regs" || bad "regs: cs is not Linux's __KERNEL_CS: $regs"
grep -Eq "efer 0xd01" <<<"$regs" || bad "regs: efer: $regs"
tr=$(run translate "$cr3" "$sym_linux_banner" 2>&1) || bad "translate linux_banner: $tr"
echo "$tr" | head -1
# nokaslr: the kernel image sits at physical 0x1000000 + (va - 0xffffffff81000000)
want=$(printf '0x%x' $((sym_linux_banner - 0xffffffff81000000 + 0x1000000)))
grep -q "gpa $want " <<<"$tr" || bad "linux_banner translated to the wrong gpa (want $want): $tr"
rv=$(run read-virt "$cr3" "$sym_linux_banner" 32 2>&1) || bad "read-virt: $rv"
grep -q "|Linux version" <<<"$rv" || bad "linux_banner does not read 'Linux version': $rv"
hb=$(linux_heartbeat)
start=$(date +%s%N)
run dump --out "$work/dump" 2>"$work/dump.err" || bad "dump: $(cat "$work/dump.err")"
ms=$((($(date +%s%N) - start) / 1000000))
size=$(stat -c %s "$work/dump" 2>/dev/null || echo 0)
[ "$size" = $((128 << 20)) ] || bad "dump is $size bytes, want 128 MiB"
echo "dump: 128 MiB in ${ms} ms"
grep -aq "Linux version" "$work/dump" || bad "the dump lacks the banner"
grep -q "%" "$work/dump.err" || echo "note: no progress output seen on stderr"
linux_wait_heartbeat_after "$hb" || bad "the guest's console stopped after the CLI ran"
[ $fail = 0 ] && echo ok
exit $fail
