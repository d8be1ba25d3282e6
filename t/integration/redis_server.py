"""A real redis-server for the tests: a temp dir, a free 127.0.0.1 port, stopped by PID; and a
tiny RESP client to look at (and tamper with) what the module stored."""
import os
import shutil
import signal
import socket
import tempfile

from t.integration.harness import Process, free_port, wait_until

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    def __init__(self, port=None, password=None, extra_args=()):
        self.dir = tempfile.mkdtemp(prefix="sso-redis-")
        self.port = port or free_port()
        self.password = password
        self.extra_args = list(extra_args)
        self.proc = None
        self.start()

    def start(self):
        self.proc = Process([REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly",
                             "no", "--daemonize", "no", "--dir", self.dir]
                            + (["--requirepass", self.password] if self.password else []) + self.extra_args,
                            self.dir, "redis")
        self.proc.wait_ready(self.port)
        wait_until(lambda: self.ping(), "redis PING")

    def ping(self):
        try:
            return self.command("PING") == "PONG"
        except OSError:
            return False

    def stop(self):
        if self.proc:
            self.proc.stop()
            self.proc = None

    def freeze(self):
        os.kill(self.proc.proc.pid, signal.SIGSTOP)

    def thaw(self):
        os.kill(self.proc.proc.pid, signal.SIGCONT)

    def cleanup(self):
        if self.proc and self.proc.proc.poll() is None:
            self.thaw()
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    # --- RESP ---------------------------------------------------------------------------

    def command(self, *args, timeout=5.0, db=0):
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            f = s.makefile("rb")
            if self.password:
                _send(s, ("AUTH", self.password))
                _read_reply(f)
            if db:
                _send(s, ("SELECT", db))
                _read_reply(f)
            _send(s, args)
            return _read_reply(f)

    def keys(self, pattern="*"):
        return sorted(k.decode(errors="replace") for k in self.command("KEYS", pattern))

    def calls(self, command):
        """How many times Redis ran `command` (INFO commandstats)."""
        info = self.command("INFO", "commandstats").decode()
        for line in info.splitlines():
            if line.startswith("cmdstat_%s:" % command.lower()):
                return int(line.split("calls=", 1)[1].split(",", 1)[0])
        return 0


def _send(sock, args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    sock.sendall(out)


def _read_reply(f):
    line = f.readline()
    if not line:
        raise OSError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2]
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise OSError("unexpected reply %r" % line)
