#!/usr/bin/env python3
"""Memory and rate limits across clients (issue 10, point 8 and the rest).

- The global budget for queued data: readers that stop reading (stopped
  with SIGSTOP, so they acknowledge nothing) are closed, the one holding the
  most first, as soon as all clients together hold more than max-queued-kib;
  a listener that keeps up is never closed and gets every message, and the
  server's own queued-bytes counter never passes the budget. The budget is
  set low here by its option (the default, 512 MiB, takes gigabytes to
  reach); messages go in steps the listener reads, so it never holds more
  than a step.
- The per-connection cap as an option: a lower max-queued-per-connection-kib
  closes a stopped reader at that size, as "slow", the budget untouched.
- Rates survive a reconnect: a user who emptied their message bucket,
  left and came back is still rate-limited at once.
"""

import re
import signal
import subprocess
import time

import abuse
import harness

ROOM = "budget"
BODY = 8 * 1024
STEP = 20


def body(i):
    head = "budget %04d " % i
    return head + "x" * (BODY - len(head))


class LimitsTest(harness.WorldTestCase):
    def stopped_readers(self, server, names):
        readers = []
        for name in names:
            reader = harness.Client(self.world, server.address, name, "--room", ROOM, "listen")
            reader.wait_event("ready")
            readers.append(reader)
        for reader in readers:
            reader.signal(signal.SIGSTOP)
        return readers

    def send_in_steps(self, server, listener, count, each_step=lambda: None):
        """`count` messages through `chat`, STEP at a time, each step read
        by the listener before the next goes."""
        writer = harness.Client(self.world, server.address, "wendy", "--room", ROOM, "chat", stdin=True)
        writer.wait_event("ready")
        for first in range(0, count, STEP):
            writer.say_many(body(i) for i in range(first, min(first + STEP, count)))
            listener.wait_count("message", min(first + STEP, count), timeout=60)
            each_step()
        writer.end_input()
        self.assertEqual(writer.wait(60), 0, writer.stderr()[-2000:])
        self.assertEqual(len(writer.events("ack")), count)

    def test_budget_closes_slowest_first(self):
        budget_kib = 2048
        count = 400          # 3.2 MB: each stopped reader alone would pass the budget
        server = harness.Server(self.world, extra=["--max-queued-kib", str(budget_kib)])
        fast = harness.Client(self.world, server.address, "fran", "--room", ROOM, "listen")
        fast.wait_event("ready")
        stopped = self.stopped_readers(server, ["sam", "sid", "sue"])

        samples = []
        self.send_in_steps(server, fast, count, lambda: samples.append(abuse.stats(server)["queued-bytes"]))

        got = fast.wait_count("message", count)
        self.assertEqual([m["body"] for m in got], [body(i) for i in range(count)])
        self.assertEqual(fast.errors_seen(), [])
        stats = abuse.stats(server)
        print("budget: %d KiB, queued-bytes after each step %r, max %d; stats %r"
              % (budget_kib, samples, max(samples), stats), flush=True)
        # All three stopped readers went, by the budget, none as a slow
        # client on its own (each stayed under the 8 MiB per connection).
        self.assertEqual(stats["budget-closes"], 3, stats)
        self.assertEqual(stats["slow-clients"], 0, stats)
        self.assertLessEqual(max(samples), budget_kib * 1024)
        self.assertLessEqual(stats["queued-bytes"], budget_kib * 1024)
        log = server.stderr()
        closed = re.findall(r"closing the connection of (\S+) from \S+: the slowest reader", log)
        self.assertEqual(sorted(closed), ["sam", "sid", "sue"], log[-3000:])
        # Only fran is left: wendy is done, the stopped readers closed.
        abuse.wait_stats(server, lambda s: s["connections"] == 1, 20, "closed connections still counted")

        # The listener is still connected and live.
        rc, _, err = harness.run_cli(self.world, server.address, "wendy", "--room", ROOM, "send", "after")
        self.assertEqual(rc, 0, err)
        fast.wait_event("message", lambda e: e["body"] == "after")
        for reader in stopped:
            reader.signal(signal.SIGCONT)
        fast.signal(2)
        self.assertEqual(fast.wait(), 130)
        self.assertEqual(server.stop(), 0)

    def test_per_connection_cap_option(self):
        cap_kib = 512
        server = harness.Server(self.world, extra=["--max-queued-per-connection-kib", str(cap_kib)])
        fast = harness.Client(self.world, server.address, "fran", "--room", ROOM, "listen")
        fast.wait_event("ready")
        stopped = self.stopped_readers(server, ["sam"])

        self.send_in_steps(server, fast, 100)      # 800 KiB, past the cap
        self.assertEqual(len(fast.wait_count("message", 100)), 100)
        self.assertEqual(fast.errors_seen(), [])
        stats = abuse.stats(server)
        self.assertEqual(stats["slow-clients"], 1, stats)
        self.assertEqual(stats["budget-closes"], 0, stats)
        self.assertIn("closing the connection of sam from", server.stderr())
        abuse.wait_stats(server, lambda s: s["connections"] == 1, 20, "closed connections still counted")
        stopped[0].signal(signal.SIGCONT)
        self.assertEqual(server.stop(), 0)

        # The transport's own ceiling is the most it can be set to.
        proc = subprocess.run([harness.SERVER, "--data-dir", self.world.path("other"),
                               "--max-queued-per-connection-kib", "9000"],
                              env=self.world.env, capture_output=True, timeout=30)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(b"--max-queued-per-connection-kib must be from 1 to 8192", proc.stderr)

    def test_rate_survives_reconnect(self):
        server = harness.Server(self.world, extra=["--message-rate", "1", "--message-burst", "100"])
        first = abuse.Flood(self.world, server, "flood", 300, "--user", "flo", "--room", ROOM,
                            "--seed", "flo")
        result = first.wait_json("flood")
        limited = result["errors"].get("rate-limited", 0)
        self.assertEqual(result["acked"] + limited, 300, result)
        self.assertGreater(limited, 100, result)
        emptied = time.monotonic()
        self.assertEqual(first.finish(), 0, first.stderr())
        # Gone: no connection of flo's is left to keep the rates.
        abuse.wait_stats(server, lambda s: s["users"] == 0, 10, "flo still online")

        again = abuse.Flood(self.world, server, "flood", 20, "--user", "flo", "--room", ROOM, "--seed", "flo")
        result = again.wait_json("flood")
        elapsed = time.monotonic() - emptied
        limited = result["errors"].get("rate-limited", 0)
        print("reconnect after %.1f s: %d of 20 acknowledged, %d rate-limited"
              % (elapsed, result["acked"], limited), flush=True)
        # One a second refilled since: not the 100 of a fresh burst.
        self.assertFalse(result["closed"])
        self.assertGreater(limited, 0, result)
        self.assertLessEqual(result["acked"], int(elapsed) + 1, result)
        self.assertEqual(result["acked"] + limited, 20, result)
        self.assertGreaterEqual(abuse.stats(server)["rate-users"], 1)
        self.assertEqual(again.finish(), 0, again.stderr())
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main()
