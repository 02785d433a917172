"""A tiny raw GDB RSP client for the stub's tests (ack mode, no RLE)."""
import socket
import time


def checksum(data: bytes) -> int:
    return sum(data) & 0xFF


def frame(payload: bytes) -> bytes:
    return b"$" + payload + b"#" + b"%02x" % checksum(payload)


class Rsp:
    def __init__(self, addr, timeout=30.0):
        host, port = addr.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""
        self.noack = False

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def raw(self, data: bytes):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError("stub closed the connection")
        self.buf += chunk

    def read_byte(self) -> bytes:
        while not self.buf:
            self._fill()
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def recv(self) -> bytes:
        """Next packet payload (acks and stray bytes before '$' skipped)."""
        while True:
            while b"$" not in self.buf:
                self._fill()
            start = self.buf.index(b"$")
            while b"#" not in self.buf[start:] or len(self.buf) < self.buf.index(b"#", start) + 3:
                self._fill()
            end = self.buf.index(b"#", start)
            payload = self.buf[start + 1:end]
            cs = self.buf[end + 1:end + 3]
            self.buf = self.buf[end + 3:]
            if int(cs, 16) != checksum(payload):
                raise ValueError("bad checksum from stub")
            if not self.noack:
                self.raw(b"+")
            return unescape(payload)

    def send(self, payload):
        if isinstance(payload, str):
            payload = payload.encode()
        self.raw(frame(payload))
        if not self.noack:
            while True:
                b = self.read_byte()
                if b == b"+":
                    return
                if b == b"-":
                    self.raw(frame(payload))

    def cmd(self, payload) -> bytes:
        self.send(payload)
        return self.recv()

    def start_noack(self):
        if self.cmd("QStartNoAckMode") == b"OK":
            self.noack = True

    def read_mem(self, addr, length, chunk=0x10000) -> bytes:
        out = b""
        while len(out) < length:
            n = min(chunk, length - len(out))
            r = self.cmd("m%x,%x" % (addr + len(out), n))
            if r.startswith(b"E") and len(r) == 3:
                raise IOError("m %x: %s" % (addr + len(out), r))
            out += bytes.fromhex(r.decode())
        return out

    def read_u64(self, addr) -> int:
        return int.from_bytes(self.read_mem(addr, 8), "little")

    def monitor(self, text) -> str:
        r = self.cmd("qRcmd," + text.encode().hex())
        if r == b"OK":
            return ""
        return bytes.fromhex(r.decode()).decode(errors="replace")


def unescape(p: bytes) -> bytes:
    if b"}" not in p and b"*" not in p:
        return p
    out = bytearray()
    i = 0
    while i < len(p):
        c = p[i]
        if c == 0x7D:
            out.append(p[i + 1] ^ 0x20)
            i += 2
        elif c == 0x2A and out:
            out += bytes([out[-1]]) * (p[i + 1] - 29)
            i += 2
        else:
            out.append(c)
            i += 1
    return bytes(out)


def connect_retry(addr, seconds=20.0):
    deadline = time.time() + seconds
    while True:
        try:
            return Rsp(addr)
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)
