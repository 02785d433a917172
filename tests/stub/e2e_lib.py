"""Shared pieces of the stub's end-to-end tests: the stub process, gdb in
batch mode, and guest-integrity checks through a raw RSP client."""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rsp_raw import connect_retry  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pylib"))
from checks import Fail, check, skip  # noqa: E402,F401

GDB_TIMEOUT = 120


class Ctx:
    def __init__(self, args):
        self.stub_bin = args.stub
        self.guest = args.guest
        self.work = args.workdir
        os.makedirs(self.work, exist_ok=True)
        self.stubs = []
        self.syms = {}
        out = subprocess.run(["nm", self.guest], capture_output=True, text=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3:
                self.syms[parts[2]] = int(parts[0], 16)

    def sym(self, name):
        return self.syms[name]

    # ------------------------------------------------------------ the stub
    def start_stub(self, *extra, once=True, listen="127.0.0.1:0"):
        log = os.path.join(self.work, "stub-%d.log" % len(self.stubs))
        cmd = [self.stub_bin, "--listen", listen] + (["--once"] if once else []) + list(extra)
        f = open(log, "w")
        p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT)
        p.logfile = log
        self.stubs.append(p)
        deadline = time.time() + 60
        while time.time() < deadline:
            text = open(log).read()
            m = re.search(r"listening on (\S+)", text)
            if m and "VM with" in text:
                p.addr = m.group(1)
                return p
            if p.poll() is not None:
                raise Fail("stub exited early:\n" + text)
            time.sleep(0.05)
        raise Fail("stub did not start:\n" + open(log).read())

    def stop_stubs(self):
        for p in self.stubs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    # ------------------------------------------------------------ gdb
    def gdb(self, addr, cmds, sigint_on=None, pre=(), timeout=GDB_TIMEOUT):
        """Run gdb in batch mode. sigint_on=(stub, regex, delay): once the
        stub's -v log matches regex, wait delay seconds and press Ctrl-C."""
        # gdb runs without timeout(1): that one would send our Ctrl-C to its
        # whole process group a second time ("Give up waiting?").
        argv = ["gdb", "-nx", "-batch",
                "-ex", "set pagination off", "-ex", "set confirm off",
                "-ex", "set width 0"] + list(pre) + [
                "-ex", "file " + self.guest, "-ex", "target remote " + addr]
        for c in cmds:
            argv += ["-ex", c]
        p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + timeout
        if sigint_on is not None:
            stub, pattern, delay = sigint_on
            while time.time() < deadline and p.poll() is None:
                if re.search(pattern, open(stub.logfile).read()):
                    break
                time.sleep(0.1)
            time.sleep(delay)
            p.send_signal(signal.SIGINT)
        try:
            out, _ = p.communicate(timeout=max(1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
            out += "\n[gdb killed after %d s]\n" % timeout
        return out

    # ------------------------------------------------------------ raw client
    def snapshot(self, addr):
        """Code and read-only data as a fresh client reads them."""
        r = connect_retry(addr)
        r.start_noack()
        code_lo, code_hi = self.sym("guest_pvh_start") & ~0xFFF, self.sym("guest_code_end")
        ro_lo, ro_hi = self.sym("guest_rodata_start"), self.sym("guest_rodata_end")
        data = (r.read_mem(code_lo, code_hi - code_lo), r.read_mem(ro_lo, ro_hi - ro_lo))
        counters = (r.read_u64(self.sym("guest_counter")), r.read_u64(self.sym("guest_int3_count")))
        r.cmd("D")
        r.close()
        return data, counters

    def integrity(self, addr, before, bp_addrs=()):
        """The guest's code is as before, no 0xCC where we planted, it ticks
        and its own int3s are still counted."""
        time.sleep(0.3)
        after, c1 = self.snapshot(addr)
        check(after[0] == before[0], "code byte-identical after leaving")
        check(after[1] == before[1], "read-only data byte-identical after leaving")
        base = self.sym("guest_pvh_start") & ~0xFFF
        for a in bp_addrs:
            check(after[0][a - base] != 0xCC, "no 0xCC left at %#x" % a)
        time.sleep(0.5)
        _, c2 = self.snapshot(addr)
        check(c2[0] > c1[0], "guest still ticks (%d -> %d)" % (c1[0], c2[0]))
        check(c2[1] > c1[1], "guest's own int3 count still rises (%d -> %d)" % (c1[1], c2[1]))


