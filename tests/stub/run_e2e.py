#!/usr/bin/env python3
"""End-to-end tests of microvmi-gdbstub: real gdb (batch, Python API, MI) and
a raw RSP client against the bundled guest on the emu driver.

usage: run_e2e.py --stub BIN --guest ELF --workdir DIR SCENARIO
Exit 0 pass, 1 fail, 77 skipped (no gdb, no guest, no emu driver)."""
import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rsp_raw import connect_retry  # noqa: E402
from e2e_lib import GDB_TIMEOUT, Ctx, Fail, check, skip  # noqa: E402

# ==================================================================== scenarios

def sc_basics(c):
    p = c.start_stub()
    out = c.gdb(p.addr, ["info registers rip cr3 cr0 efer", "p guest_counter", "p $cr3",
                         "info threads", "x/2i $pc", "p/x $fs_base", "p $xmm0", "detach"])
    check(re.search(r"^cr3\s+0x[0-9a-f]+", out, re.M), "info registers cr3", out)
    check(re.search(r"^rip\s+0x[0-9a-f]+", out, re.M), "info registers rip", out)
    check(re.search(r"\$1 = \d+", out), "p guest_counter", out)
    check("Thread 1" in out, "threads listed", out)
    check("Detaching" in out or "detached" in out.lower(), "detach", out)


def sc_break_tick(c):
    p = c.start_stub(once=False)
    before, _ = c.snapshot(p.addr)
    out = c.gdb(p.addr, ["p guest_int3_count", "break guest_tick", "continue", "bt",
                         "info registers cr3", "p guest_counter", "ignore 1 40", "continue",
                         "p guest_int3_count", "p guest_counter", "delete", "detach"])
    check(re.search(r"Breakpoint 1, (0x[0-9a-f]+ in )?guest_tick", out), "stops at guest_tick", out)
    check(re.search(r"#0\s+(0x[0-9a-f]+ in )?guest_tick", out), "bt shows guest_tick", out)
    check(re.search(r"^cr3\s+0x", out, re.M), "cr3 at the breakpoint", out)
    vals = [int(v) for v in re.findall(r"^\$\d+ = (\d+)", out, re.M)]
    check(len(vals) == 4, "printed four values", out)
    check(vals[2] > vals[0], "guest's own int3s reinjected while debugging (%d -> %d)"
          % (vals[0], vals[2]), out)
    check(vals[3] >= vals[1] + 40, "41 more hits counted by the guest", out)
    c.integrity(p.addr, before, [c.sym("guest_tick")])


WATCH_TIMEOUT = 60  # a watch that never fires must not hold the suite for long


def sc_watch_write(c, *extra):
    p = c.start_stub(*extra)
    out = c.gdb(p.addr, ["watch guest_counter", "continue", "continue", "delete", "detach"],
                timeout=WATCH_TIMEOUT)
    m = re.findall(r"Old value = (\d+)\s+New value = (\d+)", out)
    check(re.search(r"Hardware watchpoint \d+: guest_counter", out), "watch stops", out)
    check(len(m) == 2 and all(int(n) == int(o) + 1 for o, n in m),
          "watch shows old and new value (+1), twice", out)


def sc_watch_read(c, *extra):
    p = c.start_stub(*extra)
    out = c.gdb(p.addr, ["rwatch guest_counter", "continue", "continue", "delete", "detach"],
                timeout=WATCH_TIMEOUT)
    check(len(re.findall(r"Hardware read watchpoint \d+: guest_counter\s+Value = \d+", out)) == 2,
          "rwatch stops with the value, twice", out)


def sc_watch_access(c, *extra):
    p = c.start_stub(*extra)
    out = c.gdb(p.addr, ["awatch guest_counter", "continue", "continue", "delete", "detach"],
                timeout=WATCH_TIMEOUT)
    check(len(re.findall(r"hit Hardware access \(read/write\) watchpoint \d+: guest_counter", out)) == 2,
          "awatch stops, twice", out)


def sc_watch_lift(c):
    """--watch-mode lift: permissions lifted for one lone step instead of EMULATE."""
    sc_watch_write(c, "--watch-mode", "lift")
    sc_watch_read(c, "--watch-mode", "lift")


def sc_watch_buffer(c):
    p = c.start_stub()
    out = c.gdb(p.addr, ["p sizeof(guest_buffer)", "watch guest_buffer", "continue",
                         "p $pc", "delete", "detach"], timeout=WATCH_TIMEOUT)
    check("$1 = 8192" in out, "guest_buffer is 8 KiB", out)
    check(re.search(r"Hardware watchpoint 1: guest_buffer", out) and "New value" in out,
          "8 KiB watch stops with old/new value", out)


def sc_stepping(c):
    p = c.start_stub()
    out = c.gdb(p.addr, ["break guest_tick", "continue", "delete", "p/x $pc", "stepi", "p/x $pc",
                         "nexti", "p/x $pc", "step", "finish", "p/x $pc", "detach"])
    pcs = [int(v, 16) for v in re.findall(r"^\$\d+ = (0x[0-9a-f]+)", out, re.M)]
    check(len(pcs) == 4, "pcs printed", out)
    check(pcs[0] == c.sym("guest_tick") or pcs[0] > 0, "stopped at guest_tick", out)
    check(pcs[1] != pcs[0], "stepi moves the pc", out)
    check(pcs[2] != pcs[1], "nexti moves the pc", out)
    check(re.search(r"0x[0-9a-f]+ in guest_main \(", out) and
          not (c.sym("guest_tick") <= pcs[3] < c.sym("guest_main") + 0x1000 and
               pcs[3] < c.sym("guest_tick") + 0x10),
          "finish returns to guest_main", out)


def sc_step_capstone(c):
    """The fallback step: capstone-decoded temporary breakpoints."""
    p = c.start_stub("--without", "event_singlestep")
    out = c.gdb(p.addr, ["monitor info", "break guest_tick", "continue", "delete", "p/x $pc"] +
                ["stepi", "p/x $pc"] * 8 + ["finish", "p/x $pc", "detach"])
    check("step temporary breakpoints" in out, "stub steps with temporary breakpoints", out)
    pcs = [int(v, 16) for v in re.findall(r"^\$\d+ = (0x[0-9a-f]+)", out, re.M)]
    check(len(pcs) == 10, "pcs printed", out)
    check(all(a != b for a, b in zip(pcs[:9], pcs[1:9])), "every stepi moves the pc", out)
    check(re.search(r"0x[0-9a-f]+ in guest_main \(", out), "finish returns to guest_main", out)


def sc_threads(c):
    p = c.start_stub()
    out = c.gdb(p.addr, ["info threads", "break guest_tick", "continue", "delete",
                         "thread 1", "p/x $pc", "thread 2", "p/x $pc", "stepi", "p/x $pc",
                         "stepi", "p/x $pc", "thread 1", "p/x $pc", "detach"])
    check(re.search(r"Thread 2", out), "two vCPUs as threads", out)
    pcs = [int(v, 16) for v in re.findall(r"^\$\d+ = (0x[0-9a-f]+)", out, re.M)]
    check(len(pcs) == 5, "pcs printed", out)
    check(pcs[2] != pcs[1] and pcs[3] != pcs[2], "thread 2 steps", out)
    check(pcs[4] == pcs[0], "thread 1 stays put while thread 2 steps", out)


def sc_cr3filter(c):
    p = c.start_stub("-v")
    # The second part needs a Ctrl-C while breakpoints pass silently: run it
    # with SIGINT sent to gdb after a pause.
    out = c.gdb(p.addr, [
        "python gdb.execute('monitor cr3filter %d' % int(gdb.parse_and_eval('guest_cr3_b')))",
        "p/x guest_cr3_b", "break guest_tick",
        "continue", "p/x $cr3", "continue", "p/x $cr3", "continue", "p/x $cr3",
        "monitor cr3filter 0x7777000", "p guest_counter", "continue", "p guest_counter",
        "monitor cr3filter off", "delete", "detach"],
        sigint_on=(p, "<- qRcmd," + "cr3filter 0x7777000".encode().hex() + r"[\s\S]*<- vCont;c", 3))
    xs = re.findall(r"^\$\d+ = (0x[0-9a-f]+)", out, re.M)
    check(len(xs) == 4, "cr3 values printed", out)
    want = int(xs[0], 16) & ~0xFFF
    check(all(int(x, 16) & ~0xFFF == want for x in xs[1:]),
          "every stop is in the filtered address space", out)
    vals = [int(v) for v in re.findall(r"^\$\d+ = (\d+)$", out, re.M)]
    check("SIGINT" in out, "a filter matching nothing: no stop until Ctrl-C", out)
    check(len(vals) == 2 and vals[1] > vals[0] + 100,
          "hits outside the filter passed silently (%s)" % vals, out)


def sc_interrupt(c):
    p = c.start_stub("-v")
    out = c.gdb(p.addr, ["continue", "p guest_counter", "info threads", "detach"],
                sigint_on=(p, r"<- (vCont;)?c", 1))
    check("received signal SIGINT" in out, "Ctrl-C stops the VM", out)
    check(re.search(r"\$1 = \d+", out), "inspect after Ctrl-C", out)


def sc_detach_reconnect(c):
    p = c.start_stub(once=False)
    before, _ = c.snapshot(p.addr)
    out = c.gdb(p.addr, ["break guest_tick", "hbreak guest_self_int3",
                         "continue", "continue", "detach"])
    check("detached" in out, "detach", out)
    c.integrity(p.addr, before, [c.sym("guest_tick")])
    out = c.gdb(p.addr, ["break guest_tick", "continue", "bt 1", "detach"])
    check(re.search(r"Breakpoint 1, (0x[0-9a-f]+ in )?guest_tick", out), "reconnect works", out)
    c.integrity(p.addr, before, [c.sym("guest_tick")])


def sc_watch_detach(c):
    """Detach with watchpoints set (and hit): every permission restored."""
    p = c.start_stub(once=False)
    before, _ = c.snapshot(p.addr)
    out = c.gdb(p.addr, ["watch guest_counter", "rwatch guest_buffer[0x100]",
                         "awatch -l guest_buffer[0x1008]", "continue", "continue", "detach"],
                timeout=WATCH_TIMEOUT)
    check("detached" in out, "detach", out)
    c.integrity(p.addr, before)


def sc_kill(c):
    p = c.start_stub(once=False)
    before, _ = c.snapshot(p.addr)
    out = c.gdb(p.addr, ["break guest_tick", "rwatch guest_counter", "continue", "kill"])
    check("Breakpoint 1" in out or "watchpoint" in out, "stopped before kill", out)
    c.integrity(p.addr, before, [c.sym("guest_tick")])


def sc_disconnect_running(c):
    p = c.start_stub(once=False)
    before, _ = c.snapshot(p.addr)
    r = connect_retry(p.addr)
    tick = c.sym("guest_tick")
    never = c.sym("guest_pvh_start")  # 32-bit entry: never runs on emu
    check(r.cmd("Z0,%x,1" % never) == b"OK", "Z0 planted")
    check(r.cmd("Z1,%x,1" % c.sym("guest_pf_probe_end")) == b"OK", "Z1 set")
    check(r.cmd("Z2,%x,8" % c.sym("guest_msr_last")) == b"OK", "Z2 set")
    check(r.cmd("Z0,%x,1" % tick) == b"OK", "Z0 at guest_tick")
    r.send("vCont;c")
    stop = r.recv()
    check(stop.startswith(b"T05"), "stop reply after vCont;c: %s" % stop)
    check(r.cmd("z0,%x,1" % tick) == b"OK", "z0 at guest_tick")
    r.send("vCont;c")
    time.sleep(0.3)
    r.close()  # vanish while the VM runs with breakpoints planted
    c.integrity(p.addr, before, [tick, never])


def sc_disconnect_midstep(c):
    p = c.start_stub(once=False)
    before, _ = c.snapshot(p.addr)
    r = connect_retry(p.addr)
    tick = c.sym("guest_tick")
    check(r.cmd("Z0,%x,1" % tick) == b"OK", "Z0 at guest_tick")
    r.send("vCont;c")
    stop = r.recv()
    m = re.search(rb"thread:([0-9a-f]+)", stop)
    check(m is not None, "stop names a thread: %s" % stop)
    # step while the breakpoint is still planted and disconnect at once:
    # the stub sees the step request and the hang-up in the same read
    r.raw(b"$vCont;s:%s#%02x" % (m.group(1), sum(b"vCont;s:" + m.group(1)) & 0xFF))
    r.close()
    c.integrity(p.addr, before, [tick])


def sc_sigterm(c):
    lo = c.sym("guest_pvh_start") & ~0xFFF
    hi = c.sym("guest_rodata_end")
    dump = os.path.join(c.work, "exit-dump.bin")
    if os.path.exists(dump):
        os.unlink(dump)
    p = c.start_stub("--exit-dump", "%#x:%#x:%s" % (lo, hi - lo, dump), once=False)
    r = connect_retry(p.addr)
    r.start_noack()
    pristine = r.read_mem(lo, hi - lo)
    tick = c.sym("guest_tick")
    check(r.cmd("Z0,%x,1" % tick) == b"OK", "Z0 at guest_tick")
    check(r.cmd("Z2,%x,8" % c.sym("guest_counter")) == b"OK", "Z2 on guest_counter")
    r.send("vCont;c")
    r.recv()
    r.send("vCont;c")  # running (or stopped again) when SIGTERM arrives
    time.sleep(0.2)
    p.send_signal(signal.SIGTERM)
    rc = p.wait(30)
    log = open(p.logfile).read()
    check(rc == 0, "stub exits 0 on SIGTERM", log)
    check("clean-up done" in log or "wrote" in log, "stub cleaned up", log)
    data = open(dump, "rb").read()
    check(len(data) == hi - lo, "memory as left at exit was dumped", log)
    # code and rodata as found (the guest's own int3 included), no 0xCC of ours
    check(data == pristine, "code and rodata byte-identical at exit", log)
    check(data[tick - lo] != 0xCC, "no 0xCC left at guest_tick")
    r.close()


def sc_bad_input(c):
    p = c.start_stub(once=False)
    r = connect_retry(p.addr)
    r.raw(b"$g#00")                      # bad checksum -> '-'
    check(r.read_byte() == b"-", "bad checksum is NAKed")
    check(r.cmd("qUnknownPacketXYZ") == b"", "unknown packet: empty reply")
    check(r.cmd("vMustReplyEmpty") == b"", "vMustReplyEmpty")
    check(r.cmd("m") .startswith(b"E"), "malformed m: error")
    check(r.cmd("mzz,10").startswith(b"E"), "m with bad hex: error")
    check(r.cmd("Z9,0,1").startswith(b"E"), "Z with bad type: error")
    check(r.cmd("vCont;q").startswith(b"E"), "vCont with bad action: error")
    check(r.cmd("Hg99").startswith(b"E"), "H unknown thread: error")
    check(r.cmd("p999") == b"", "p past the last register: empty")
    check(r.cmd("P0=12").startswith(b"E"), "P with short value: error")
    check(r.cmd("qRcmd,zz").startswith(b"E"), "qRcmd with bad hex: error")
    check(r.cmd("M200000,4:zz").startswith(b"E"), "M with bad data: error")
    e = r.cmd("mffff800000000000,10")
    check(e.startswith(b"E"), "unmapped address: E reply (%s)" % e)
    big = r.cmd("m%x,ffffffffffffffff" % c.sym("guest_counter"))
    check(not big.startswith(b"E") and 0 < len(big) <= 0x40000,
          "m with an absurd length: a bounded partial reply (%d chars)" % len(big))
    r.raw(b"\x00\xff garbage }}}} ## ++--")  # garbage between packets
    check(r.cmd("qC").startswith(b"QC"), "garbage skipped, next packet served")
    r.raw(b"$" + b"m" * (600 * 1024) + b"#00")  # oversized (and bad checksum)
    rep = r.recv()
    check(rep.startswith(b"E"), "oversized packet: error reply (%s)" % rep[:8])
    check(r.cmd("qXfer:features:read:nonexistent.xml:0,100").startswith(b"E"),
          "unknown annex: error")
    check(r.cmd("qXfer:features:read:target.xml:0,fff").startswith(b"l"), "target.xml")
    r.raw(b"$m200000,")  # vanish mid-packet
    r.close()
    time.sleep(0.2)
    out = c.gdb(p.addr, ["break guest_tick", "continue", "p guest_counter", "detach"])
    check(re.search(r"Breakpoint 1, (0x[0-9a-f]+ in )?guest_tick", out),
          "gdb works after the bad client", out)
    check(p.poll() is None, "stub still alive")


def sc_python_api(c):
    script = os.path.join(c.work, "count.py")
    with open(script, "w") as f:
        f.write(r'''
import gdb
class Counter(gdb.Breakpoint):
    def __init__(self):
        super().__init__("guest_tick")
        self.hits = 0
    def stop(self):
        self.hits += 1
        return self.hits >= 100
bp = Counter()
gdb.execute("continue")
print("HITS=%d" % bp.hits)
print("TICK=%d" % int(gdb.parse_and_eval("guest_counter")))
bp.delete()
gdb.execute("detach")
''')
    out = subprocess.run(["timeout", str(GDB_TIMEOUT), "gdb", "-nx", "-batch",
                          "-ex", "set pagination off", "-ex", "file " + c.guest,
                          "-ex", "target remote " + c.start_stub().addr, "-x", script],
                         capture_output=True, text=True).stdout
    check("HITS=100" in out, "Python stop() callback ran 100 times", out)


def sc_mi(c):
    p = c.start_stub()
    cmds = ["-gdb-set pagination off", "-file-exec-and-symbols " + c.guest,
            "-target-select remote " + p.addr, "-break-insert guest_tick",
            "-exec-continue"]
    proc = subprocess.Popen(["timeout", str(GDB_TIMEOUT), "gdb", "-nx", "-i=mi"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    transcript = []

    def until(pattern):
        while True:
            line = proc.stdout.readline()
            if not line:
                raise Fail("gdb/MI ended early:\n" + "".join(transcript))
            transcript.append(line)
            if re.search(pattern, line):
                return line

    def send(cmd):
        proc.stdin.write(cmd + "\n")
        proc.stdin.flush()

    until(r"^\(gdb\)")
    for cmd in cmds:
        send(cmd)
        until(r"^\^(done|running|connected|error)")
    stopped = until(r"^\*stopped")
    send("-stack-list-frames")
    frames = until(r"^\^(done|error)")
    send("-data-evaluate-expression guest_counter")
    value = until(r"^\^(done|error)")
    send("-target-detach")
    until(r"^\^(done|error)")
    send("-gdb-exit")
    proc.communicate(timeout=30)
    t = "".join(transcript)
    check('reason="breakpoint-hit"' in stopped and "guest_tick" in stopped,
          "MI *stopped at the breakpoint", t)
    check('func="guest_tick"' in frames, "MI -stack-list-frames", t)
    check(re.search(r'\^done,value="\d+"', value), "MI -data-evaluate-expression", t)


def sc_hwbreak(c):
    p = c.start_stub()
    out = c.gdb(p.addr, ["hbreak guest_tick", "continue", "p/x $pc", "continue", "p/x $pc",
                         "delete", "detach"])
    check(re.search(r"Hardware assisted breakpoint 1", out), "hbreak set", out)
    pcs = re.findall(r"^\$\d+ = (0x[0-9a-f]+)", out, re.M)
    check(len(pcs) == 2 and all(int(x, 16) == c.sym("guest_tick") for x in pcs),
          "hw breakpoint stops at guest_tick twice", out)


def sc_monitor(c):
    p = c.start_stub()
    out = c.gdb(p.addr, ["monitor help", "monitor info", "monitor vcpus",
                         "monitor translate %#x" % c.sym("guest_counter"),
                         "monitor phys on", "x/gx %#x" % c.sym("guest_counter"),
                         "monitor phys off", "monitor bogus", "detach"])
    check("cr3filter CR3|off" in out, "monitor help", out)
    check("driver: emu" in out and "capabilities:" in out, "monitor info", out)
    check(re.search(r"vCPU 0 \(thread 1\): rip 0x", out), "monitor vcpus", out)
    check(re.search(r"%#x -> %#x" % (c.sym("guest_counter"), c.sym("guest_counter")), out),
          "monitor translate (identity map)", out)
    check("guest-physical" in out and re.search(r"0x[0-9a-f]+ <guest_counter>:\s+0x", out),
          "monitor phys on: reads physical", out)
    check("unknown or malformed command" in out, "unknown monitor command", out)


def sc_stdio(c):
    out = subprocess.run(["timeout", str(GDB_TIMEOUT), "gdb", "-nx", "-batch",
                          "-ex", "file " + c.guest,
                          "-ex", "target remote | %s --listen stdio" % c.stub_bin,
                          "-ex", "break guest_tick", "-ex", "continue", "-ex", "p guest_counter",
                          "-ex", "detach"], capture_output=True, text=True)
    t = out.stdout + out.stderr
    check(re.search(r"Breakpoint 1, (0x[0-9a-f]+ in )?guest_tick", t),
          "target remote | microvmi-gdbstub --listen stdio", t)


def sc_unix(c):
    sock = os.path.join(c.work, "stub.sock")
    p = c.start_stub(listen="unix:" + sock)
    check(p.addr == "unix:" + sock, "listening on the unix socket (%s)" % p.addr)
    out = c.gdb(sock, ["break guest_tick", "continue", "p guest_counter", "detach"])
    check(re.search(r"Breakpoint 1, (0x[0-9a-f]+ in )?guest_tick", out), "gdb over a unix socket", out)


def sc_qemu_driver(c):
    """Any driver: real QEMU (TCG) through the qemu driver's native mechanisms."""
    if not shutil.which("qemu-system-x86_64"):
        skip("qemu-system-x86_64 is not installed")
    p = c.start_stub("--driver", "qemu", "--param", "launch=1", "--param", "kernel=" + c.guest)
    out = c.gdb(p.addr, ["info registers cr3", "break guest_tick", "continue", "bt 2",
                         "stepi", "p/x $pc", "monitor info", "detach"])
    check(re.search(r"Breakpoint 1, (0x[0-9a-f]+ in )?guest_tick", out), "breakpoint on QEMU", out)
    check(re.search(r"#1\s+0x[0-9a-f]+ in guest_main", out), "backtrace on QEMU", out)
    m = re.search(r"^\$1 = (0x[0-9a-f]+)", out, re.M)
    check(m and int(m.group(1), 16) != c.sym("guest_tick"), "stepi on QEMU moves the pc", out)
    check("driver: qemu" in out and "Z0 native" in out, "native mechanisms chosen", out)


def sc_file_driver(c):
    """Any driver: the read-only file driver on an ELF core QEMU dumps."""
    if not shutil.which("qemu-system-x86_64"):
        skip("qemu-system-x86_64 is not installed")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    core = os.path.join(c.work, "guest.core")
    r = subprocess.run([os.path.join(root, "scripts", "qemu-guest-dump"), c.guest, core,
                        "--seconds", "1"], capture_output=True, text=True)
    if r.returncode != 0:
        skip("could not dump the guest with QEMU: " + r.stderr[-300:])
    p = c.start_stub("--driver", "file", "--param", "path=" + core)
    out = c.gdb(p.addr, ["info registers rip cr3", "bt", "p guest_counter", "info threads",
                         "monitor info", "p $_siginfo", "detach"])
    check(re.search(r"^cr3\s+0x[0-9a-f]+", out, re.M), "cr3 from the dump", out)
    check(re.search(r"#\d+\s+.*guest_main", out), "backtrace through the dump", out)
    check(re.search(r"\$1 = \d+", out), "variable from the dump", out)
    check("driver: file" in out, "monitor info names the driver", out)


SCENARIOS = {k[3:]: v for k, v in globals().items() if k.startswith("sc_")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stub", required=True)
    ap.add_argument("--guest", required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("scenario", choices=sorted(SCENARIOS))
    args = ap.parse_args()
    if not shutil.which("gdb"):
        skip("gdb is not installed")
    if not os.path.exists(args.guest):
        skip("the bundled guest was not built (%s)" % args.guest)
    if not os.path.exists(args.stub):
        skip("microvmi-gdbstub was not built")
    matrix = subprocess.run([args.stub, "--list-drivers"], capture_output=True, text=True).stdout
    if args.scenario not in ("file_driver", "qemu_driver") and not re.search(r"^capability.*\bemu\b", matrix, re.M):
        skip("the emu driver is not compiled in")
    c = Ctx(args)
    try:
        SCENARIOS[args.scenario](c)
    except Fail as e:
        print("FAIL: %s" % e)
        for p in c.stubs:
            print("---- stub log %s ----" % p.logfile)
            print(open(p.logfile).read()[-4000:])
        c.stop_stubs()
        return 1
    c.stop_stubs()
    # The stub runs under ASan/UBSan in the test build: any report fails the
    # scenario (leaks only when a stub source is on the allocation stack).
    for p in c.stubs:
        log = open(p.logfile).read()
        bad = "ERROR: AddressSanitizer" in log or "runtime error:" in log or \
            ("LeakSanitizer" in log and "/stub/" in log.split("LeakSanitizer", 1)[1])
        if bad:
            print("FAIL: sanitizer report in %s:\n%s" % (p.logfile, log[-6000:]))
            return 1
    print("PASS " + args.scenario)
    return 0


if __name__ == "__main__":
    sys.exit(main())
