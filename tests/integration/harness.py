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
# QUIPU_LONG_TESTS=1: the durability tests run at full scale (by hand, not in CI).
LONG = os.environ.get("QUIPU_LONG_TESTS") == "1"
# Seeds every random choice of a test (kill moments, bursts, relay impairment).
SEED = int(os.environ.get("QUIPU_TEST_SEED", "1"))


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
        self.times = []                 # time.monotonic() of each line
        self.cond = threading.Condition()
        self.closed = False
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        world.processes.append(self)

    def _read(self):
        for raw in self.proc.stdout:
            with self.cond:
                self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.times.append(time.monotonic())
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
        self.extra = list(extra)
        super().__init__(world, [SERVER, "--listen", listen, "--data-dir", self.data_dir] + self.extra,
                         env=env)
        line = self.wait_line(r"listening on ")
        self.address = line.rsplit(" ", 1)[1]
        self.port = int(self.address.rsplit(":", 1)[1])
        self.fingerprint = self.wait_line(r"^certificate fingerprint ").split()[-1]

    def stop(self, timeout=10):
        self.signal(signal.SIGTERM)
        return self.wait(timeout)

    def crash(self):
        """SIGKILL: no goodbye, no flush; only what was committed survives."""
        self.signal(signal.SIGKILL)
        self.wait()

    def restarted(self, world):
        """A new server on the same address and data directory, as after a crash."""
        server = Server(world, data_dir=self.data_dir, listen=self.address, extra=self.extra)
        if server.fingerprint != self.fingerprint:
            raise AssertionError("the restarted server has certificate %s, not %s"
                                 % (server.fingerprint, self.fingerprint))
        return server


class Relay(Process):
    """The lossy relay between some clients and a server; controlled on its stdin."""

    def __init__(self, world, upstream, seed=1, **impairment):
        if not RELAY:
            raise RuntimeError("QUIPU_RELAY must point at the built relay")
        argv = [RELAY, "--listen", "127.0.0.1:0", "--upstream", upstream, "--seed", str(seed)]
        for name, value in sorted(impairment.items()):
            argv += ["--" + name, str(value)]
        super().__init__(world, argv, stdin=True)
        self.address = self.wait_line(r"^listening on ").split()[-1]

    def command(self, line):
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()

    def cut(self):
        self.command("cut")

    def restore(self):
        self.command("restore")

    def stats(self, timeout=10):
        """The relay's counters, as a dict."""
        with self.cond:
            before = sum(1 for line in self.lines if line.startswith("{"))
        self.command("stats")
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                replies = [line for line in self.lines if line.startswith("{")]
                if len(replies) > before:
                    return json.loads(replies[before])
                left = deadline - time.monotonic()
                if left <= 0 or self.closed:
                    raise AssertionError("quipu-relay: no stats within %ss; stderr %r" % (timeout, self.stderr()))
                self.cond.wait(left)


class Client(Process):
    """quipu-cli with --json; events are parsed as they arrive."""

    def __init__(self, world, server, user, *args, stdin=False, identity=None, env=None):
        argv = [CLI, "--server", server, "--user", user, "--json"]
        if identity:
            argv += ["--identity", identity]
        self._events = []
        super().__init__(world, argv + list(args), stdin=stdin, env=env)
        self.user = user

    def events(self, kind=None):
        with self.cond:
            # Lines are only ever appended: parse each once.
            for line in self.lines[len(self._events):]:
                try:
                    self._events.append(json.loads(line))
                except ValueError:
                    raise AssertionError("not JSON from quipu-cli: %r" % line)
            return [e for e in self._events if kind is None or e.get("type") == kind]

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

    def say_many(self, lines):
        self.proc.stdin.write("".join(line + "\n" for line in lines).encode())
        self.proc.stdin.flush()

    def conversation(self, conversation):
        """The message and ack events of "#room" or "@name,...", in the order printed."""
        return [e for e in self.events() if e.get("type") in ("message", "ack")
                and e.get("conversation") == conversation]

    def errors_seen(self):
        """Every connection error the client reported."""
        return [e["error"] for e in self.events("state") if e.get("error")]

    def timed_events(self, kind):
        """(time.monotonic() it was printed, event) for each event of a kind."""
        events = self.events()
        with self.cond:
            return [(t, e) for t, e in zip(self.times, events) if e.get("type") == kind]

    def end_input(self):
        self.proc.stdin.close()


def run_cli(world, server, user, *args, timeout=30, identity=None):
    """Runs quipu-cli to completion; returns (exit code, stdout, stderr)."""
    argv = [CLI, "--server", server, "--user", user]
    if identity:
        argv += ["--identity", identity]
    proc = subprocess.run(argv + list(args), env=world.env, capture_output=True, timeout=timeout)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def wait_for(condition, timeout, describe):
    """Polls condition() until it returns something true and returns that;
    after `timeout` seconds fails with the text describe() gives."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("after %ss: %s" % (timeout, describe()))
        time.sleep(0.2)


class Feeder(threading.Thread):
    """Types numbered lines ("alice 0042") into a chat client in bursts of
    random size with random pauses, so sending overlaps whatever the test
    does meanwhile. The random generator is the caller's (seeded)."""

    def __init__(self, client, count, rng, burst=(5, 40), pause=(0.01, 0.08), first=0):
        super().__init__(daemon=True)
        self.client = client
        self.bodies = ["%s %04d" % (client.user, i) for i in range(first, first + count)]
        self.plan = []
        i = 0
        while i < count:
            n = rng.randint(*burst)
            self.plan.append((self.bodies[i:i + n], rng.uniform(*pause)))
            i += n
        self.sent = 0
        self.log = []                   # (time.monotonic(), lines written so far)
        self.cond = threading.Condition()
        self.done = False
        self.error = None

    def run(self):
        try:
            for lines, pause in self.plan:
                self.client.say_many(lines)
                with self.cond:
                    self.sent += len(lines)
                    self.log.append((time.monotonic(), self.sent))
                    self.cond.notify_all()
                time.sleep(pause)
        except OSError as e:
            self.error = e
        with self.cond:
            self.done = True
            self.cond.notify_all()

    def wait_burst(self, index, timeout=60):
        """Returns right after burst `index` is written (or the next one, if
        that is past); FALSE if typing ended first."""
        with self.cond:
            target = max(index, len(self.log) + 1)
            self.cond.wait_for(lambda: len(self.log) >= target or self.done, timeout)
            return len(self.log) >= target

    def typed_before(self, moment):
        return max([n for t, n in self.log if t <= moment], default=0)

    def finish(self, timeout=120):
        self.join(timeout)
        if self.is_alive() or self.error:
            raise AssertionError("%s: feeding stopped after %d lines: %r"
                                 % (self.client.user, self.sent, self.error))


class Ledger:
    """Checks that a room reached every member exactly once and in order.

    The truth is what the server acknowledged: every ack names a sequence, a
    sender and a body. Each member's view is its message events plus its own
    acks; it must hold every acknowledged message exactly once, with message
    events in strictly increasing sequence order."""

    def __init__(self, conversation, clients, sent):
        self.conversation = conversation
        self.clients = clients
        self.sent = sent                      # {sender: [bodies typed]}
        self.problems = []

    def _truth(self):
        truth = {}
        for client in self.clients:
            for ack in client.events("ack"):
                if ack.get("conversation") != self.conversation:
                    continue
                entry = (ack["sender"], ack["body"])
                if truth.setdefault(ack["seq"], entry) != entry:
                    self.problems.append("sequence %d acknowledged for both %r and %r"
                                         % (ack["seq"], truth[ack["seq"]], entry))
        return truth

    def covered(self, client, count):
        """TRUE once the client's view has `count` distinct sequences."""
        return len({e["seq"] for e in client.conversation(self.conversation)}) >= count

    def check(self):
        """Returns the figures: sent, acknowledged, delivered, lost, duplicated."""
        self.problems = []
        truth = self._truth()
        typed = [(sender, body) for sender, bodies in self.sent.items() for body in bodies]
        acked = [(c.user, a["body"]) for c in self.clients for a in c.events("ack")
                 if a.get("conversation") == self.conversation]
        n_typed, n_acked = len(typed), len(set(acked))
        duplicated = len(acked) - n_acked
        lost = len(set(typed) - set(acked))
        delivered = 0

        if sorted(truth) != list(range(1, len(truth) + 1)):
            self.problems.append("the room's sequences are not 1..%d" % len(truth))
        per_body = {}
        for seq, entry in truth.items():
            per_body.setdefault(entry, []).append(seq)
        for entry, seqs in per_body.items():
            if len(seqs) > 1:
                duplicated += len(seqs) - 1
                self.problems.append("%r stored %d times: %r" % (entry, len(seqs), seqs))

        for client in self.clients:
            view = client.conversation(self.conversation)
            seen = {}
            last = 0
            for event in view:
                seen.setdefault(event["seq"], []).append((event["sender"], event["body"]))
                if event["type"] == "message":
                    if event["seq"] <= last:
                        self.problems.append("%s: message %d shown after %d" % (client.user, event["seq"], last))
                    last = event["seq"]
            for seq, entries in seen.items():
                if len(entries) > 1:
                    duplicated += len(entries) - 1
                    self.problems.append("%s: sequence %d shown %d times" % (client.user, seq, len(entries)))
                if seq in truth and entries[0] != truth[seq]:
                    self.problems.append("%s: sequence %d is %r, the server acknowledged %r"
                                         % (client.user, seq, entries[0], truth[seq]))
                if seq not in truth:
                    self.problems.append("%s: sequence %d was never acknowledged to anyone" % (client.user, seq))
            missing = [seq for seq in truth if seq not in seen]
            lost += len(missing)
            delivered += len(truth) - len(missing)
            if missing:
                self.problems.append("%s: %d messages missing, first %r" % (client.user, len(missing), missing[:5]))

        if n_typed != n_acked:
            self.problems.append("%d typed, %d acknowledged" % (n_typed, n_acked))
        return {"sent": n_typed, "acknowledged": n_acked, "delivered": delivered,
                "lost": lost, "duplicated": duplicated}


def print_figures(name, figures, **extra):
    """One line on stdout per test, for the record."""
    parts = ["%s %s" % (key, figures[key]) for key in ("sent", "acknowledged", "delivered", "lost", "duplicated")]
    parts += ["%s %s" % item for item in extra.items()]
    print("%s: %s" % (name, ", ".join(parts)), flush=True)


class WorldTestCase(unittest.TestCase):
    def setUp(self):
        self.world = World()

    def tearDown(self):
        self.world.cleanup()


def main():
    unittest.main(verbosity=2)
