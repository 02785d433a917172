# Sourced by the Linux tests and benches: boot Debian's cloud kernel with the
# busybox initramfs (scripts/linux-test-vm) under QEMU TCG, started the way a
# user starts it (scripts/microvmi-qemu: RAM file, QMP, gdbstub sockets).
#   linux_boot WORKDIR MEM_MIB   sets LINUX_DIR, LINUX_SERIAL, LINUX_PID, LINUX_PARAMS
#                                (microvmi --param list) and sym_NAME for each symbol
#   linux_heartbeat              the last heartbeat number on the console
#   linux_stop
# Exits 77 (skip) when the kernel cannot be had.
linux_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

linux_boot() {
  local work=$1 mib=$2 vm
  command -v qemu-system-x86_64 >/dev/null || { echo "skipped: qemu-system-x86_64 not installed"; exit 77; }
  vm=$("$linux_root/scripts/linux-test-vm" prepare) || exit 77
  eval "$vm"
  LINUX_DIR=$work/vm
  LINUX_SERIAL=$work/serial.log
  mkdir -p "$LINUX_DIR"
  "$linux_root/scripts/microvmi-qemu" --run --dir "$LINUX_DIR" --mem "${mib}M" --kernel "$KERNEL" \
    --initrd "$INITRD" --append "$APPEND" --serial "$LINUX_SERIAL" \
    </dev/null >"$work/qemu.log" 2>&1 &
  LINUX_PID=$!
  local deadline=$((SECONDS + ${LINUX_BOOT_TIMEOUT:-90}))
  until grep -q "microvmi-linux: symbols done" "$LINUX_SERIAL" 2>/dev/null; do
    if ! kill -0 "$LINUX_PID" 2>/dev/null || ((SECONDS > deadline)); then
      echo "FAIL: Linux did not boot: $(tail -c 400 "$work/qemu.log") / $(tail -c 400 "$LINUX_SERIAL" 2>/dev/null)"
      exit 1
    fi
    sleep 0.2
  done
  while read -r _ name addr; do
    printf -v "sym_$name" '0x%s' "$addr"
  done < <(grep '^microvmi-sym ' "$LINUX_SERIAL" | tr -d '\r')
  LINUX_PARAMS=(--param "qmp=$LINUX_DIR/qmp.sock" --param "gdb=$LINUX_DIR/gdb.sock"
                --param "mem=$LINUX_DIR/ram")
}

linux_heartbeat() {
  grep -a '^heartbeat ' "$LINUX_SERIAL" | tail -n1 | awk '{print $2 + 0}'
}

# Wait until the console shows a heartbeat after $1 (the guest runs on).
linux_wait_heartbeat_after() {
  local after=$1
  for _ in $(seq 150); do
    (( $(linux_heartbeat) > after )) && return 0
    sleep 0.1
  done
  return 1
}

linux_stop() {
  [ -n "${LINUX_PID:-}" ] && kill "$LINUX_PID" 2>/dev/null && wait "$LINUX_PID" 2>/dev/null
  LINUX_PID=
}
