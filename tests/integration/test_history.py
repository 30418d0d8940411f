#!/usr/bin/env python3
"""History: a room with 10 000 messages; a newcomer gets the last 200 at
once, then pages back with `quipu-cli history` to the very first message
with no gap and no overlap.

Environment: QUIPU_TEST_SEED (default 1) picks the page sizes;
QUIPU_LONG_TESTS=1 runs the long variant by hand (50 000 messages).
"""

import json
import random

import harness

TOTAL = 50000 if harness.LONG else 10000
JOIN_PAGE = 200
ROOM = "archive"


class HistoryTest(harness.WorldTestCase):
    def fill_room(self, server):
        """One chat client types TOTAL lines; returns {seq: body}."""
        writer = harness.Client(self.world, server.address, "scribe", "--room", ROOM, "chat", stdin=True)
        writer.wait_event("ready")
        for first in range(0, TOTAL, 500):
            writer.say_many(["scribe %05d" % i for i in range(first, min(first + 500, TOTAL))])
        writer.end_input()
        self.assertEqual(writer.wait(60 + TOTAL // 100), 0, writer.stderr())
        acks = writer.events("ack")
        self.assertEqual(len(acks), TOTAL)
        stored = {a["seq"]: a["body"] for a in acks}
        self.assertEqual(sorted(stored), list(range(1, TOTAL + 1)))
        return stored

    def page(self, server, before, limit):
        rc, out, err = harness.run_cli(self.world, server.address, "reader", "--room", ROOM, "--json",
                                       "history", "--before", str(before), "--limit", str(limit))
        self.assertEqual(rc, 0, err)
        return [e for e in map(json.loads, out.splitlines()) if e["type"] == "message"]

    def test_join_then_page_back(self):
        rng = random.Random(harness.SEED)
        server = harness.Server(self.world)
        stored = self.fill_room(server)

        reader = harness.Client(self.world, server.address, "reader", "--room", ROOM, "--history",
                                str(JOIN_PAGE), "listen")
        reader.wait_event("ready")
        rc, _, err = harness.run_cli(self.world, server.address, "scribe", "--room", ROOM, "send", "live")
        self.assertEqual(rc, 0, err)
        reader.wait_event("message", lambda e: e["body"] == "live")
        reader.signal(2)
        self.assertEqual(reader.wait(), 130, reader.stderr())
        joined = reader.events("message")
        self.assertEqual([(e["seq"], e["body"], e["history"]) for e in joined[:-1]],
                         [(seq, stored[seq], True) for seq in range(TOTAL - JOIN_PAGE + 1, TOTAL + 1)])
        self.assertEqual((joined[-1]["seq"], joined[-1]["history"]), (TOTAL + 1, False))

        # Page back from the oldest one shown, in pages of varying size.
        seen = [e["seq"] for e in joined[:-1]]
        before, pages = seen[0], 0
        while before > 1:
            limit = rng.randint(300, 1000)
            page = self.page(server, before, limit)
            pages += 1
            seqs = [e["seq"] for e in page]
            self.assertEqual(seqs, list(range(max(1, before - limit), before)), "page before %d" % before)
            self.assertTrue(all(e["history"] and e["body"] == stored[e["seq"]] for e in page))
            seen = seqs + seen
            before = seqs[0]
        self.assertEqual(seen, list(range(1, TOTAL + 1)))

        # Asking below the first message gives nothing, and says so cleanly.
        self.assertEqual(self.page(server, 1, 50), [])
        print("history: sent %d, acknowledged %d, delivered %d, lost %d, duplicated %d, pages %d"
              % (TOTAL, len(stored), len(set(seen)), TOTAL - len(set(seen)), len(seen) - len(set(seen)), pages),
              flush=True)
        self.assertEqual(server.stop(), 0, server.stderr()[-3000:])


if __name__ == "__main__":
    harness.main()
