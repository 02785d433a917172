#!/usr/bin/env python3
"""microvmi-gdbstub on the qemu driver against QEMU's own gdbstub, on the
same VM in the same run (figures and ratios, never asserts):

  memory       gdb `dump binary memory` of 64 MiB of Linux's direct map
               (Debian's cloud kernel under TCG): through microvmi-gdbstub
               (qemu driver, RAM file) and through QEMU's gdbstub directly;
               plus the microvmi CLI dump of all RAM (the driver API alone)
  breakpoints  gdb `continue` round trips with a breakpoint on guest_tick
               (the bundled guest under TCG), both ways

usage: bench_qemu.py --stub BIN --cli BIN --guest ELF --workdir DIR [--seconds S] [--rounds N]"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests/qemu"))
from qemuvm import Fail, Stub, boot_linux, gdb, qemu_params, read, start_qemu, wait_for  # noqa: E402

DIRECT_MAP = 0xffff888000000000
DUMP = 64 << 20


def timed_dump(addr, out, kernel_stop):
    """Stop in the kernel first (with KPTI, a vCPU stopped in user mode has
    no direct map), then time the dump alone."""
    if os.path.exists(out):
        os.unlink(out)
    text = gdb(addr, ["break *%#x" % kernel_stop, "continue", "delete",
                      "python import time; t = time.time()",
                      "dump binary memory %s %#x %#x" % (out, DIRECT_MAP, DIRECT_MAP + DUMP),
                      "python print('dump-seconds %.6f' % (time.time() - t))", "detach"])
    m = re.search(r"dump-seconds ([0-9.]+)", text)
    if not m or not os.path.exists(out) or os.path.getsize(out) != DUMP:
        raise Fail("dump failed:\n" + text[-1500:])
    return float(m.group(1))


class RawRsp:
    """A minimal RSP client: how fast the server side delivers, without gdb."""

    def __init__(self, addr):
        import socket
        if addr.startswith("/"):
            self.s = socket.socket(socket.AF_UNIX)
            self.s.connect(addr)
        else:
            host, port = addr.rsplit(":", 1)
            self.s = socket.create_connection((host, int(port)))
        self.buf = b""
        self.ack = True
        self.s.settimeout(0.3)
        try:
            self.s.recv(4096)  # QEMU's stop reply on connect, if any
        except OSError:
            pass
        self.s.settimeout(None)
        sup = self.cmd(b"qSupported:swbreak+")
        m = re.search(rb"PacketSize=([0-9a-fA-F]+)", sup)
        self.size = int(m.group(1), 16) if m else 0x1000
        if b"QStartNoAckMode+" in sup and self.cmd(b"QStartNoAckMode") == b"OK":
            self.ack = False

    def cmd(self, p):
        self.s.sendall(b"$" + p + b"#%02x" % (sum(p) & 0xff))
        while True:
            i = self.buf.find(b"$")
            j = self.buf.find(b"#", i) if i >= 0 else -1
            if i >= 0 and j >= 0 and len(self.buf) >= j + 3:
                pkt, self.buf = self.buf[i + 1:j], self.buf[j + 3:]
                if self.ack:
                    self.s.sendall(b"+")
                if pkt[:1] in (b"T", b"S") and not p.startswith(b"?"):
                    continue  # a stop reply nobody asked for
                return pkt
            self.buf += self.s.recv(1 << 20)

    def read(self, addr, length):
        chunk = max(64, (self.size - 16) // 2) & ~63
        out = bytearray()
        while len(out) < length:
            n = min(chunk, length - len(out))
            r = self.cmd(b"m%x,%x" % (addr + len(out), n))
            if not r or r[:1] == b"E":
                raise Fail("m failed at %#x: %r" % (addr + len(out), r[:20]))
            out += bytes.fromhex(r.decode())
        return bytes(out)

    def close(self):
        try:
            self.cmd(b"D")
        except OSError:
            pass
        self.s.close()


def raw_read_seconds(addr, kernel_stop):
    """Stop in the kernel (a breakpoint through gdb), then read 64 MiB raw."""
    gdb(addr, ["break *%#x" % kernel_stop, "continue", "delete", "detach"])
    # detach resumed it: stop again by connecting (QEMU's stub stops the VM on
    # connect; microvmi-gdbstub answers `?` with the VM stopped too)
    r = RawRsp(addr)
    r.cmd(b"?")
    t = time.time()
    try:
        r.read(DIRECT_MAP, DUMP)
        return time.time() - t
    except Fail:
        return None
    finally:
        r.close()


def bp_rate(addr, symfile, seconds):
    text = gdb(addr, ["break guest_tick", "continue",
                      "python import time\n"
                      "t = time.time(); n = 0\n"
                      "while time.time() - t < %f:\n"
                      "    gdb.execute('continue', to_string=True); n += 1\n"
                      "print('bp-rate %%d %%.6f' %% (n, time.time() - t))" % seconds,
                      "delete", "detach"], symfile=symfile)
    m = re.search(r"bp-rate (\d+) ([0-9.]+)", text)
    if not m:
        raise Fail("breakpoint loop failed:\n" + text[-1500:])
    return int(m.group(1)) / float(m.group(2))


def bench_memory(a):
    work = os.path.join(a.workdir, "mem")
    os.makedirs(work, exist_ok=True)
    q, vmdir, serial, syms = boot_linux(work, 128)
    try:
        # Alternate the two ways so a change in the machine's load hits both.
        t_stub = t_qemu = float("inf")
        for _ in range(a.rounds):
            stub = Stub(a.stub, work, qemu_params(vmdir), once=True, verbose=False)
            t_stub = min(t_stub, timed_dump(stub.addr, os.path.join(work, "stub.bin"),
                                              syms["do_sys_openat2"]))
            stub.stop()  # --once would do; SIGTERM does not depend on it
            t_qemu = min(t_qemu, timed_dump(vmdir + "/gdb.sock", os.path.join(work, "qemu.bin"),
                                              syms["do_sys_openat2"]))
        # The server side alone, no gdb: a raw client reading with the
        # largest packets each stub allows.
        raw = {}
        for way in ("stub", "qemu"):
            for _ in range(3):
                if way == "stub":
                    stub = Stub(a.stub, work, qemu_params(vmdir), once=False, verbose=False)
                    secs = raw_read_seconds(stub.addr, syms["do_sys_openat2"])
                    stub.stop()
                else:
                    secs = raw_read_seconds(vmdir + "/gdb.sock", syms["do_sys_openat2"])
                if secs:
                    raw[way] = min(raw.get(way, secs), secs)
                    break
        t0 = time.time()
        subprocess.run([a.cli, "--driver", "qemu"] + sum([["--param", p] for p in qemu_params(vmdir)], [])
                       + ["dump", "--out", os.path.join(work, "cli.bin")], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        t_cli = time.time() - t0
        mib = DUMP / (1 << 20)
        print("memory: gdb dump of 64 MiB of Linux's direct map (TCG, 128 MiB guest), best of %d"
              % a.rounds)
        print("  through microvmi-gdbstub (qemu driver): %6.2f s  %7.1f MiB/s" % (t_stub, mib / t_stub))
        print("  through QEMU's gdbstub directly:        %6.2f s  %7.1f MiB/s" % (t_qemu, mib / t_qemu))
        print("  ratio: %.2fx (goal >= 5x)" % (t_qemu / t_stub))
        if "stub" in raw and "qemu" in raw:
            print("  raw RSP client, no gdb: microvmi-gdbstub %.1f MiB/s, QEMU's gdbstub %.1f MiB/s,"
                  " ratio %.2fx" % (mib / raw["stub"], mib / raw["qemu"], raw["qemu"] / raw["stub"]))
        else:
            print("  raw RSP client: the vCPU sat in user mode (no direct map with KPTI); skipped")
        print("  (the driver API alone: microvmi dump of all 128 MiB in %.2f s, %.0f MiB/s,"
              " process start included)" % (t_cli, 128 / t_cli))
        same = open(os.path.join(work, "stub.bin"), "rb").read(1 << 20) == \
            open(os.path.join(work, "qemu.bin"), "rb").read(1 << 20)
        print("  first MiB identical both ways: %s" % ("yes" if same else "no (the guest runs)"))
    finally:
        q.terminate()
        q.wait(10)


def bench_breakpoints(a):
    work = os.path.join(a.workdir, "bp")
    os.makedirs(work, exist_ok=True)
    q, vmdir, serial = start_qemu(work, 64, a.guest)
    try:
        wait_for(lambda: "tick " in read(serial), 60, "guest ticks")
        r_stub = r_qemu = 0.0
        for _ in range(a.rounds):
            stub = Stub(a.stub, work, qemu_params(vmdir), once=True, verbose=False)
            r_stub = max(r_stub, bp_rate(stub.addr, a.guest, a.seconds))
            stub.stop()
            r_qemu = max(r_qemu, bp_rate(vmdir + "/gdb.sock", a.guest, a.seconds))
        print("breakpoints: gdb continue round trips, break guest_tick (bundled guest, TCG), "
              "best of %d x %.0f s" % (a.rounds, a.seconds))
        print("  through microvmi-gdbstub (qemu driver): %7.1f /s  %6.3f ms each" % (r_stub, 1e3 / r_stub))
        print("  through QEMU's gdbstub directly:        %7.1f /s  %6.3f ms each" % (r_qemu, 1e3 / r_qemu))
        print("  cost ratio: %.2fx of QEMU's per round trip (goal <= 1.2x)" % (r_qemu / r_stub))
    finally:
        q.terminate()
        q.wait(10)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stub", required=True)
    ap.add_argument("--cli", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; best of each way")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    try:
        bench_memory(a)
        bench_breakpoints(a)
    except Fail as e:
        print("bench failed: %s" % e)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
