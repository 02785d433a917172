"""Shared by the qemu driver's gdb tests and benches: start microvmi-gdbstub
on the qemu driver, run gdb in batch mode, boot the Linux test VM the way a
user starts QEMU (scripts/microvmi-qemu)."""
import os
import re
import shutil
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pylib"))
from checks import Fail, check, skip  # noqa: E402,F401

GDB_TIMEOUT = 150


def wait_for(pred, timeout, what):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise Fail("timed out: " + what)


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


class Stub:
    def __init__(self, binary, work, params, once=False, verbose=True):
        self.log = os.path.join(work, "stub.log")
        cmd = [binary, "--driver", "qemu", "--listen", "127.0.0.1:0"] + (["-v"] if verbose else [])
        cmd += ["--once"] if once else []
        for p in params:
            cmd += ["--param", p]
        self.p = subprocess.Popen(cmd, stdout=open(self.log, "w"), stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while time.time() < deadline:
            m = re.search(r"listening on (\S+)", read(self.log))
            if m:
                self.addr = m.group(1)
                return
            if self.p.poll() is not None:
                raise Fail("stub exited early:\n" + read(self.log)[-2000:])
            time.sleep(0.05)
        raise Fail("stub did not start:\n" + read(self.log)[-2000:])

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(20)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode


def gdb(addr, cmds, symfile=None, sigint_after=None, timeout=GDB_TIMEOUT):
    """gdb in batch mode; sigint_after=(logfile, regex, delay): once the log
    matches, wait delay seconds and press Ctrl-C."""
    argv = ["timeout", str(timeout), "gdb", "-nx", "-batch", "-ex", "set pagination off",
            "-ex", "set confirm off", "-ex", "set width 0"]
    if symfile:
        argv += ["-ex", "file " + symfile]
    argv += ["-ex", "target remote " + addr]
    for c in cmds:
        argv += ["-ex", c]
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if sigint_after:
        log, pattern, delay = sigint_after
        deadline = time.time() + timeout
        while time.time() < deadline and p.poll() is None:
            if re.search(pattern, read(log)):
                break
            time.sleep(0.1)
        time.sleep(delay)
        p.send_signal(signal.SIGINT)
    out, _ = p.communicate()
    return out


def last_number(path, word):
    vals = re.findall(r"^%s (\d+)" % word, read(path), re.M)
    return int(vals[-1]) if vals else -1


def boot_linux(work, mib):
    """Start QEMU with Linux like a user would; return (proc, qemu dir, serial, syms)."""
    if not shutil.which("qemu-system-x86_64"):
        skip("qemu-system-x86_64 not installed")
    prep = subprocess.run([os.path.join(ROOT, "scripts/linux-test-vm"), "prepare"],
                          capture_output=True, text=True)
    if prep.returncode == 77:
        skip(prep.stderr.strip().replace("skipped: ", "", 1) or "no Linux kernel")
    if prep.returncode != 0:
        raise Fail("linux-test-vm: " + prep.stderr)
    env = dict(re.findall(r"^(\w+)='?(.*?)'?$", prep.stdout, re.M))
    q, vmdir, serial = start_qemu(work, mib, env["KERNEL"], env["INITRD"], env["APPEND"])
    deadline = time.time() + 120
    while "microvmi-linux: symbols done" not in read(serial):
        if q.poll() is not None or time.time() > deadline:
            raise Fail("Linux did not boot: " + read(os.path.join(work, "qemu.log"))[-500:]
                       + read(serial)[-500:])
        time.sleep(0.2)
    syms = {n: int(v, 16) for n, v in re.findall(r"^microvmi-sym (\S+) ([0-9a-f]+)", read(serial), re.M)}
    return q, vmdir, serial, syms


def start_qemu(work, mib, kernel, initrd=None, append=None):
    """QEMU as scripts/microvmi-qemu starts it: (proc, dir with qmp.sock,
    gdb.sock and ram, serial log)."""
    vmdir, serial = os.path.join(work, "vm"), os.path.join(work, "serial.log")
    os.makedirs(vmdir, exist_ok=True)
    cmd = [os.path.join(ROOT, "scripts/microvmi-qemu"), "--run", "--dir", vmdir,
           "--mem", "%dM" % mib, "--kernel", kernel, "--serial", serial]
    if initrd:
        cmd += ["--initrd", initrd]
    if append:
        cmd += ["--append", append]
    q = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                         stdout=open(os.path.join(work, "qemu.log"), "w"), stderr=subprocess.STDOUT)
    return q, vmdir, serial


def qemu_params(vmdir):
    return ["qmp=" + vmdir + "/qmp.sock", "gdb=" + vmdir + "/gdb.sock", "mem=" + vmdir + "/ram"]
