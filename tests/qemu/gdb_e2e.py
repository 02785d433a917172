#!/usr/bin/env python3
"""gdb through microvmi-gdbstub on the qemu driver, end to end.

usage: gdb_e2e.py --stub BIN --workdir DIR guest|exit --guest ELF
       gdb_e2e.py --stub BIN --workdir DIR linux

guest: the bundled guest in a QEMU the driver launches (launch=1): break
       guest_tick, continue, info registers cr3, watch guest_counter, stepi,
       Ctrl-C, detach; the guest keeps ticking, QEMU ends with the stub.
exit:  QEMU ends while gdb waits in `continue`: gdb is told the VM exited (W).
linux: Debian's cloud kernel in a QEMU started like a user does
       (scripts/microvmi-qemu), the stub attached to it: linux_banner by its
       virtual address, break do_sys_openat2, info registers cr3, stepi, a
       write watchpoint on jiffies, dump 64 MiB of the direct map, detach; the
       console keeps printing and QEMU keeps running.
Exit 0 pass, 1 fail, 77 skipped."""
import argparse
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qemuvm import (Fail, Stub, boot_linux, check, gdb, last_number, qemu_params,  # noqa: E402
                    read, skip, start_qemu, wait_for)

def scenario_guest(a):
    if not os.path.exists(a.guest):
        skip(a.guest + " not built (target microvmi_guest)")
    serial = os.path.join(a.workdir, "serial.log")
    stub = Stub(a.stub, a.workdir, ["launch=1", "kernel=" + a.guest, "mem=64M",
                                    "serial=" + serial])
    try:
        wait_for(lambda: last_number(serial, "tick") > 0, 60, "guest ticks")
        out = gdb(stub.addr, [
            "break guest_tick", "continue", "info registers cr3", "p/x $pc", "delete",
            "watch guest_counter", "continue", "delete",
            "stepi", "p/x $pc", "continue", "p guest_counter", "info threads", "detach"],
            symfile=a.guest, sigint_after=(stub.log, r"<- (vCont;)?c\s*$", 1.0))
        check(re.search(r"Breakpoint 1, (0x[0-9a-f]+ in )?guest_tick", out), "break guest_tick", out)
        check(re.search(r"^cr3\s+0x[0-9a-f]+", out, re.M), "info registers cr3", out)
        m = re.findall(r"Old value = (\d+)\s+New value = (\d+)", out)
        check(m and int(m[0][1]) == int(m[0][0]) + 1, "watch guest_counter: old/new +1", out)
        pcs = re.findall(r"^\$\d+ = (0x[0-9a-f]+)", out, re.M)
        check(len(pcs) >= 2 and pcs[0] != pcs[1], "stepi moves $pc", out)
        check("Program received signal SIGINT" in out, "Ctrl-C stops the VM", out)
        check("detached" in out, "detach", out)
        n = last_number(serial, "tick")
        wait_for(lambda: last_number(serial, "tick") > n, 30, "guest ticks after detach")
        print("ok: the guest keeps ticking after detach")
    finally:
        rc = stub.stop()
    print(read(stub.log)[-600:])
    check(rc == 0, "stub exits cleanly on SIGTERM")
    check(not os.path.exists(serial) or not re.search(r"panic", read(serial)), "no guest panic")


def scenario_exit(a):
    """QEMU ends while gdb waits in `continue`: gdb learns the VM exited."""
    if not os.path.exists(a.guest):
        skip(a.guest + " not built (target microvmi_guest)")
    q, vmdir, serial = start_qemu(a.workdir, 64, a.guest)
    try:
        wait_for(lambda: last_number(serial, "tick") > 0, 60, "guest ticks")
        stub = Stub(a.stub, a.workdir, qemu_params(vmdir), once=True)
        import threading
        killer = threading.Thread(target=lambda: (wait_for(
            lambda: re.search(r"<- (vCont;)?c\s*$", read(stub.log), re.M), 60, "continue"),
            time.sleep(1.0), q.terminate()))
        killer.start()
        out = gdb(stub.addr, ["continue", "info registers rip"], symfile=a.guest)
        killer.join()
        check(re.search(r"exited|Remote connection closed|terminated", out), "gdb sees the VM end", out)
        check(stub.p.wait(30) == 0, "stub exits cleanly after the VM ended")
    finally:
        if q.poll() is None:
            q.kill()
        q.wait(10)


def scenario_linux(a):
    q, vmdir, serial, syms = boot_linux(a.workdir, 128)
    try:
        for s in ("linux_banner", "do_sys_openat2", "jiffies"):
            check(s in syms, "kallsyms gave " + s, read(serial)[-1000:])
        stub = Stub(a.stub, a.workdir, qemu_params(vmdir), once=True)
        dump = os.path.join(a.workdir, "direct-map.bin")
        base = 0xffff888000000000
        out = gdb(stub.addr, [
            "x/s %#x" % syms["linux_banner"],
            "break *%#x" % syms["do_sys_openat2"], "continue", "p/x $pc", "info registers cr3",
            "stepi", "p/x $pc", "delete",
            "watch *(long *)%#x" % syms["jiffies"], "continue", "delete",
            "python import time; t = time.time()",
            "dump binary memory %s %#x %#x" % (dump, base, base + (64 << 20)),
            "python print('dump took %.3f s' % (time.time() - t))",
            "detach"])
        check(re.search(r':\s+"Linux version 6\.', out), "linux_banner reads 'Linux version'", out)
        pcs = re.findall(r"^\$\d+ = (0x[0-9a-f]+)", out, re.M)
        check(pcs and int(pcs[0], 16) == syms["do_sys_openat2"], "break on do_sys_openat2, $pc", out)
        check(re.search(r"^cr3\s+0x[0-9a-f]+", out, re.M), "info registers cr3", out)
        check(len(pcs) >= 2 and pcs[1] != pcs[0], "stepi moves $pc", out)
        m = re.findall(r"Old value = (\d+)\s+New value = (\d+)", out)
        check(m and int(m[0][1]) > int(m[0][0]), "write watchpoint on jiffies: old/new", out)
        check(os.path.exists(dump) and os.path.getsize(dump) == 64 << 20, "64 MiB of the direct map", out)
        with open(dump, "rb") as f:
            check(b"Linux version 6." in f.read(), "the direct-map dump holds the banner")
        t = re.search(r"dump took ([0-9.]+) s", out)
        if t:
            print("figure: 64 MiB direct-map dump through microvmi-gdbstub in %s s (%.1f MiB/s)"
                  % (t.group(1), 64 / max(float(t.group(1)), 1e-6)))
        check("detached" in out, "detach", out)
        stub.stop()  # the stub leaves (SIGTERM cleans up as --once would)
        n = last_number(serial, "heartbeat")
        wait_for(lambda: last_number(serial, "heartbeat") > n, 30, "console keeps printing")
        print("ok: the console keeps printing after detach (heartbeat %d -> %d)"
              % (n, last_number(serial, "heartbeat")))
        check(q.poll() is None, "QEMU keeps running after the stub left")
    finally:
        q.terminate()
        q.wait(10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stub", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--guest")
    ap.add_argument("scenario", choices=["guest", "linux", "exit"])
    a = ap.parse_args()
    if not shutil.which("gdb"):
        skip("gdb not installed")
    if not shutil.which("qemu-system-x86_64"):
        skip("qemu-system-x86_64 not installed")
    shutil.rmtree(a.workdir, ignore_errors=True)
    os.makedirs(a.workdir)
    try:
        {"guest": scenario_guest, "linux": scenario_linux, "exit": scenario_exit}[a.scenario](a)
    except Fail as e:
        print("FAIL: %s" % e)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
