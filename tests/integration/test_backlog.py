#!/usr/bin/env python3
"""Backlog: 600 messages of 16 KiB (9.6 MB, past the 8 MiB a client may
leave unread) reach a reader whichever way it asks for them.

Once a page was queued in one go and the server closed the very client
reading it as "too far behind". Now the server feeds a page as the
client's stream drains: `history --limit 600`, `listen --history 1000`, a
room listener cut off while the messages arrived and resyncing, and a user
whose 600 direct messages wait in the inbox all get every message, in order,
and the server's own counters show pages that waited for the reader and no
reader closed for being slow.
"""

import json
import time

import abuse
import harness

COUNT = 600
BODY_BYTES = 16 * 1024
ROOM = "backlog"


def body(sender, i):
    head = "%s %04d " % (sender, i)
    return head + "x" * (BODY_BYTES - len(head))


class BacklogTest(harness.WorldTestCase):
    def write(self, server, sender, target, bodies):
        """Types the bodies in steps that never leave the writer's own
        stream far behind; returns the acks."""
        writer = harness.Client(self.world, server.address, sender, *target, "chat", stdin=True)
        writer.wait_event("state", lambda e: e.get("state") == "connected")
        for first in range(0, len(bodies), 100):
            writer.say_many(bodies[first:first + 100])
            writer.wait_count("ack", min(first + 100, len(bodies)), timeout=60)
        writer.end_input()
        self.assertEqual(writer.wait(60), 0, writer.stderr())
        acks = writer.events("ack")
        self.assertEqual([a["body"] for a in acks], bodies)
        return acks

    def test_room_backlog(self):
        server = harness.Server(self.world)
        relay = harness.Relay(self.world, server.address, seed=harness.SEED)
        away = harness.Client(self.world, relay.address, "away", "--room", ROOM, "listen")
        away.wait_event("ready")
        relay.cut()

        bodies = [body("scribe", i) for i in range(COUNT)]
        acks = self.write(server, "scribe", ("--room", ROOM), bodies)
        seqs = [a["seq"] for a in acks]
        self.assertEqual(seqs, list(range(1, COUNT + 1)))

        # A page larger than the 8 MiB limit, read by a client that reads.
        started = time.monotonic()
        rc, out, err = harness.run_cli(self.world, server.address, "reader", "--room", ROOM, "--json",
                                       "history", "--limit", str(COUNT), timeout=60)
        self.assertEqual(rc, 0, err)
        page = [e for e in map(json.loads, out.splitlines()) if e["type"] == "message"]
        self.assertEqual([(e["seq"], e["body"]) for e in page], list(zip(seqs, bodies)))
        history_s = time.monotonic() - started

        # The largest join page, with the live message after it.
        started = time.monotonic()
        joiner = harness.Client(self.world, server.address, "joiner", "--room", ROOM, "--history", "1000",
                                "listen")
        joiner.wait_event("ready", timeout=60)
        rc, _, err = harness.run_cli(self.world, server.address, "scribe", "--room", ROOM, "send", "live")
        self.assertEqual(rc, 0, err)
        joiner.wait_event("message", lambda e: e["body"] == "live", timeout=60)
        join_s = time.monotonic() - started
        joined = joiner.events("message")
        self.assertEqual([(e["seq"], e["body"], e["history"]) for e in joined],
                         [(s, b, True) for s, b in zip(seqs, bodies)] + [(COUNT + 1, "live", False)])
        self.assertEqual(joiner.errors_seen(), [])
        joiner.signal(2)
        self.assertEqual(joiner.wait(), 130, joiner.stderr())

        # The listener that was cut off: the server rightly gave up on it
        # (it stopped reading, at most once), and once back it resyncs
        # everything it missed in one go, without being closed again.
        harness.wait_for(away.errors_seen, 30, lambda: "the cut-off listener never noticed")
        before = abuse.stats(server)
        self.assertLessEqual(before["slow-clients"], 1, before)
        relay.restore()
        started = time.monotonic()
        got = away.wait_count("message", COUNT + 1, timeout=60)
        resync_s = time.monotonic() - started
        self.assertEqual([(e["seq"], e["body"]) for e in got],
                         list(zip(seqs, bodies)) + [(COUNT + 1, "live")])
        after = abuse.stats(server)
        print("backlog: %d x %d bytes; history %.1f s, join %.1f s, resync %.1f s after restore; "
              "stats before the resync %r, after %r"
              % (COUNT, BODY_BYTES, history_s, join_s, resync_s, before, after), flush=True)
        self.assertEqual(after["slow-clients"], before["slow-clients"], after)
        # Each of the three pages outgrew the window and waited for its reader.
        self.assertGreaterEqual(after["history-paced"], 3, after)
        self.assertEqual(after["held-bytes"], 0, after)
        away.signal(2)
        self.assertEqual(away.wait(), 130, away.stderr())
        self.assertEqual(server.stop(), 0, server.stderr()[-3000:])

    def test_inbox_backlog(self):
        server = harness.Server(self.world)
        rc, _, err = harness.run_cli(self.world, server.address, "bob", "listen", "--timeout", "1")
        self.assertEqual(rc, 0, err)
        bodies = [body("alice", i) for i in range(COUNT)]
        self.write(server, "alice", ("--to", "bob"), bodies)

        # bob was away: at login every one is news, in order, and a message
        # sent after his login comes after them.
        started = time.monotonic()
        bob = harness.Client(self.world, server.address, "bob", "--history", "0", "listen")
        bob.wait_event("state", lambda e: e.get("state") == "connected", timeout=60)
        rc, _, err = harness.run_cli(self.world, server.address, "alice", "--to", "bob", "send", "marker")
        self.assertEqual(rc, 0, err)
        got = bob.wait_count("message", COUNT + 1, timeout=60)
        login_s = time.monotonic() - started
        self.assertEqual([(e["body"], e["history"]) for e in got],
                         [(b, False) for b in bodies] + [("marker", False)])
        self.assertEqual(bob.errors_seen(), [])
        bob.signal(2)
        self.assertEqual(bob.wait(), 130, bob.stderr())
        stats = abuse.stats(server)
        print("backlog inbox: %d x %d bytes at login in %.1f s; stats %r" % (COUNT, BODY_BYTES, login_s, stats),
              flush=True)
        self.assertEqual(stats["slow-clients"], 0, stats)
        self.assertGreaterEqual(stats["history-paced"], 1, stats)
        self.assertEqual(server.stop(), 0, server.stderr()[-3000:])


if __name__ == "__main__":
    harness.main()
