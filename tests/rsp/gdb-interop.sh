#!/usr/bin/env bash
# Real gdb against rsp_fake_target (built only on rsp/), over stdio and TCP:
# the handshake, no-ack mode, m reads (1 MiB dump checked byte for byte),
# X writes full of escaped bytes, monitor output, detach.
#   gdb-interop.sh FAKE_TARGET_BIN
set -uo pipefail
bin=$1
command -v gdb >/dev/null || { echo "skipped: gdb not installed"; exit 77; }
work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$work"' EXIT
pid=
"$bin" --pattern 1048576 >"$work/expect.bin" || { echo "cannot write the expected bytes"; exit 1; }

run_gdb() { # TARGET_ARG LOG DUMP_END [NOACK on|off]
  timeout 60 gdb -nx -batch \
    -ex 'set architecture i386:x86-64' \
    -ex "set remote noack-packet ${4:-on}" \
    -ex 'set debug remote 0' \
    -ex "target remote $1" \
    -ex "dump binary memory $work/dump.bin 0 $3" \
    -ex 'x/4xb 0x1001' \
    -ex 'set {unsigned int}0x2000 = 0x2324247d' \
    -ex 'set {unsigned int}0x2004 = 0x0a2a7d03' \
    -ex 'x/2xw 0x2000' \
    -ex 'monitor anything' \
    -ex 'detach' >"$2" 2>&1
}

check() { # LOG NAME DUMP_BYTES
  local ok=1
  grep -q '0x1001:.*0x17.*0x1e.*0x25.*0x2c' "$1" || { echo "$2: m read wrong"; ok=0; }
  grep -q '0x2000:.*0x2324247d.*0x0a2a7d03' "$1" || { echo "$2: X/M write round trip wrong"; ok=0; }
  grep -q 'hello from rsp_fake_target' "$1" || { echo "$2: monitor output missing"; ok=0; }
  cmp -s "$work/dump.bin" <(head -c "$3" "$work/expect.bin") || { echo "$2: $3-byte dump differs"; ok=0; }
  if ((ok)); then echo "$2: ok"; else echo "--- gdb log ($2):"; cat "$1"; fi
  ((ok))
}

status=0
start=$(date +%s%N)
# gdb drains a pipe slowly (it spins on EAGAIN reads), so stdio dumps less
run_gdb "| $bin stdio" "$work/stdio.log" 0x10000
end=$(date +%s%N)
check "$work/stdio.log" stdio 65536 || status=1
echo "stdio session (incl. 64 KiB dump) took $(((end - start) / 1000000)) ms"

# acks on: gdb keeps '+'/'-' for the whole session
start=$(date +%s%N)
run_gdb "| $bin stdio" "$work/ack.log" 0x4000 off
end=$(date +%s%N)
check "$work/ack.log" "stdio, ack mode" 16384 || status=1
grep -q 'no-ack mode' "$work/ack.log" && { echo "ack mode: no-ack was negotiated anyway"; status=1; }
grep -q 'no-ack mode' "$work/stdio.log" || { echo "stdio: no-ack was not negotiated"; status=1; }
echo "stdio ack-mode session (incl. 16 KiB dump) took $(((end - start) / 1000000)) ms"

rm -f "$work/dump.bin"
"$bin" 127.0.0.1:0 2>"$work/target.err" &
pid=$!
for _ in $(seq 100); do grep -q 'listening on' "$work/target.err" && break; sleep 0.1; done
addr=$(sed -n 's/^listening on //p' "$work/target.err")
[[ -n $addr ]] || { echo "tcp: fake target did not start"; cat "$work/target.err"; exit 1; }
start=$(date +%s%N)
run_gdb "$addr" "$work/tcp.log" 0x100000
end=$(date +%s%N)
check "$work/tcp.log" tcp 1048576 || status=1
echo "tcp session (incl. 1 MiB dump) took $(((end - start) / 1000000)) ms"
wait $pid || { echo "tcp: fake target exited with an error"; cat "$work/target.err"; status=1; }
pid=
exit $status
