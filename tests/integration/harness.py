"""Real processes over loopback: quipu-server, quipu-cli and the lossy relay.

Each test gets its own temporary world (XDG directories, no session bus, so
identities live in 0600 key files) and talks to the programs only through
their command lines and output, as a user or a script would.
"""

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

SERVER = os.environ.get("QUIPU_SERVER")
CLI = os.environ.get("QUIPU_CLI")
RELAY = os.environ.get("QUIPU_RELAY")


class World:
    """A scratch HOME with its own XDG directories."""

    def __init__(self):
        if not SERVER or not CLI:
            raise RuntimeError("QUIPU_SERVER and QUIPU_CLI must point at the built programs")
        self.dir = tempfile.mkdtemp(prefix="quipu-it-")
        self.env = dict(os.environ)
        for var in ("DBUS_SESSION_BUS_ADDRESS", "SSLKEYLOGFILE", "G_MESSAGES_DEBUG"):
            self.env.pop(var, None)
        self.env.update({
            "HOME": self.dir,
            "XDG_DATA_HOME": os.path.join(self.dir, "data"),
            "XDG_STATE_HOME": os.path.join(self.dir, "state"),
            "XDG_CONFIG_HOME": os.path.join(self.dir, "config"),
            "XDG_RUNTIME_DIR": os.path.join(self.dir, "run"),
            "G_DEBUG": "",
        })
        os.makedirs(self.env["XDG_RUNTIME_DIR"], mode=0o700)
        self.processes = []

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def cleanup(self):
        for proc in self.processes:
            proc.terminate_hard()
        shutil.rmtree(self.dir, ignore_errors=True)


class Process:
    """A child whose stdout lines are collected by a thread."""

    def __init__(self, world, argv, stdin=False, env=None):
        self.argv = argv
        self.stderr_path = world.path("stderr-%d-%s" % (len(world.processes), os.path.basename(argv[0])))
        self.stderr_file = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(argv, env=env or world.env,
                                     stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self.stderr_file)
        self.lines = []
        self.cond = threading.Condition()
        self.closed = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        world.processes.append(self)

    def _read(self):
        for raw in self.proc.stdout:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.closed = True
            self.cond.notify_all()

    def wait_line(self, pattern, timeout=20):
        """Returns the first line matching the regex, waiting for it."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if regex.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise AssertionError("%s: no line matching %r within %ss; got %r; stderr %r"
                                         % (os.path.basename(self.argv[0]), pattern, timeout,
                                            self.lines[-5:], self.stderr()))
                self.cond.wait(left)

    def stderr(self):
        self.stderr_file.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait(self, timeout=30):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.terminate_hard()
            raise AssertionError("%s did not exit within %ss; stderr %r"
                                 % (" ".join(self.argv), timeout, self.stderr()))
        self.reader.join(5)
        return rc

    def signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def terminate_hard(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.stderr_file.close()


class Server(Process):
    def __init__(self, world, data_dir=None, listen="127.0.0.1:0", extra=(), env=None):
        self.data_dir = data_dir or world.path("server")
        super().__init__(world, [SERVER, "--listen", listen, "--data-dir", self.data_dir] + list(extra),
                         env=env)
        line = self.wait_line(r"listening on ")
        self.address = line.rsplit(" ", 1)[1]
        self.port = int(self.address.rsplit(":", 1)[1])
        self.fingerprint = self.wait_line(r"^certificate fingerprint ").split()[-1]

    def stop(self, timeout=10):
        self.signal(signal.SIGTERM)
        return self.wait(timeout)


class Client(Process):
    """quipu-cli with --json; events are parsed as they arrive."""

    def __init__(self, world, server, user, *args, stdin=False, identity=None, env=None):
        argv = [CLI, "--server", server, "--user", user, "--json"]
        if identity:
            argv += ["--identity", identity]
        super().__init__(world, argv + list(args), stdin=stdin, env=env)
        self.user = user

    def events(self, kind=None):
        with self.cond:
            out = []
            for line in self.lines:
                try:
                    event = json.loads(line)
                except ValueError:
                    raise AssertionError("not JSON from quipu-cli: %r" % line)
                if kind is None or event.get("type") == kind:
                    out.append(event)
            return out

    def wait_event(self, kind, predicate=lambda e: True, timeout=20):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for event in self.events(kind):
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise AssertionError("%s: no %s event within %ss; last lines %r; stderr %r"
                                         % (self.user, kind, timeout, self.lines[-5:], self.stderr()))
                self.cond.wait(left)

    def wait_count(self, kind, count, predicate=lambda e: True, timeout=60):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [e for e in self.events(kind) if predicate(e)]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise AssertionError("%s: %d of %d %s events within %ss; stderr %r"
                                         % (self.user, len(got), count, kind, timeout, self.stderr()[-2000:]))
                self.cond.wait(min(left, 1.0))

    def say(self, text):
        self.proc.stdin.write((text + "\n").encode())
        self.proc.stdin.flush()

    def end_input(self):
        self.proc.stdin.close()


def run_cli(world, server, user, *args, timeout=30, identity=None):
    """Runs quipu-cli to completion; returns (exit code, stdout, stderr)."""
    argv = [CLI, "--server", server, "--user", user]
    if identity:
        argv += ["--identity", identity]
    proc = subprocess.run(argv + list(args), env=world.env, capture_output=True, timeout=timeout)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


class WorldTestCase(unittest.TestCase):
    def setUp(self):
        self.world = World()

    def tearDown(self):
        self.world.cleanup()


def main():
    unittest.main(verbosity=2)
