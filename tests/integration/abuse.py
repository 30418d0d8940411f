"""What the limit tests share: quipu-flood, a client that misbehaves on
purpose, and the server's own counters (the stats line SIGUSR1 logs)."""

import json
import os
import re
import signal
import time

import harness

FLOOD = os.environ.get("QUIPU_FLOOD")


class Flood(harness.Process):
    """quipu-flood MODE N; its JSON lines are read with wait_json()."""

    def __init__(self, world, server, mode, n, *extra):
        if not FLOOD:
            raise RuntimeError("QUIPU_FLOOD must point at the built quipu-flood")
        argv = [FLOOD, "--server", server.address, "--trust", world.path("flood-known-servers")]
        argv += list(extra) + [mode, str(n)]
        super().__init__(world, argv, stdin=True)

    def wait_json(self, event, timeout=120):
        line = self.wait_line(r'"event": "%s"' % event, timeout)
        return json.loads(line)

    def command(self, text):
        self.proc.stdin.write((text + "\n").encode())
        self.proc.stdin.flush()

    def finish(self, timeout=30):
        self.proc.stdin.close()
        return self.wait(timeout)


def stats(server, timeout=10):
    """SIGUSR1, then the key=value pairs of the stats line it logs."""
    def lines():
        return [line for line in server.stderr().splitlines() if "stats: " in line]

    before = len(lines())
    server.signal(signal.SIGUSR1)
    deadline = time.monotonic() + timeout
    while len(lines()) <= before:
        if time.monotonic() > deadline:
            raise AssertionError("no stats line after SIGUSR1; stderr %r" % server.stderr()[-2000:])
        time.sleep(0.05)
    pairs = re.findall(r"([a-z-]+)=(\d+)", lines()[before].split("stats: ", 1)[1])
    return {key: int(value) for key, value in pairs}


def wait_stats(server, condition, timeout, what):
    """Polls the stats until condition(stats) holds; returns them."""
    deadline = time.monotonic() + timeout
    while True:
        current = stats(server)
        if condition(current):
            return current
        if time.monotonic() > deadline:
            raise AssertionError("after %ss: %s; stats %r" % (timeout, what, current))
        time.sleep(0.3)
