#!/usr/bin/env python3
"""`quipu-cli chat` piping a big file sends all of it (issue 10, point 3).

20 000 lines of 1 KiB are 20 MiB, well past the connection's 8 MiB backlog
limit: the client's outbox must send only as fast as its stream drains, not
queue everything and lose what the connection refused. The server runs with
its default limits: its message burst (20 000) covers the file, so the pace
is set by the stream alone and every line is stored in the order typed.
QUIPU_LONG_TESTS=1 pipes 100 000 lines instead, past the burst, so the rate
limit paces it (resending what was refused) at the default 200 a second.
"""

import json
import time

import harness

ROOM = "bulk"
LINES = 100000 if harness.LONG else 20000
BODY = 1024


def line(i):
    head = "line %06d " % i
    return head + "x" * (BODY - len(head))


class BackpressureTest(harness.WorldTestCase):
    def test_chat_pipes_a_big_file(self):
        server = harness.Server(self.world)
        reader = harness.Client(self.world, server.address, "rhea", "--room", ROOM, "listen")
        reader.wait_event("ready")

        start = time.monotonic()
        writer = harness.Client(self.world, server.address, "wren", "--room", ROOM, "chat", stdin=True)
        writer.say_many(line(i) for i in range(LINES))
        writer.end_input()
        # chat leaves once every line it read is acknowledged.
        self.assertEqual(writer.wait(timeout=600 if harness.LONG else 90), 0, writer.stderr()[-2000:])
        acked = time.monotonic() - start
        acks = writer.events("ack")
        self.assertEqual(len(acks), LINES)
        if not harness.LONG:
            # Nothing was refused and resent, so the order typed is kept.
            self.assertEqual([a["seq"] for a in acks], list(range(1, LINES + 1)))
        self.assertEqual(sorted(a["seq"] for a in acks), list(range(1, LINES + 1)))
        self.assertEqual(writer.events("failed"), [])

        got = reader.wait_count("message", LINES, timeout=600 if harness.LONG else 60)
        print("%d lines of %d bytes: all acknowledged in %.1f s, all read in %.1f s"
              % (LINES, BODY, acked, time.monotonic() - start), flush=True)
        self.assertEqual(len(got), LINES)
        self.assertEqual([m["seq"] for m in got], list(range(1, LINES + 1)))
        bodies = [m["body"] for m in got]
        if harness.LONG:
            # Refused lines go again later: each is there once, maybe not in order.
            self.assertEqual(sorted(bodies), [line(i) for i in range(LINES)])
        else:
            self.assertEqual(bodies, [line(i) for i in range(LINES)])

        # The store holds them too: the last page of the room's history.
        rc, out, err = harness.run_cli(self.world, server.address, "rhea", "--json", "--room", ROOM,
                                       "history", "--limit", "1000")
        self.assertEqual(rc, 0, err)
        page = [json.loads(l) for l in out.splitlines()]
        page = [m for m in page if m.get("type") == "message"]
        self.assertEqual([m["seq"] for m in page], list(range(LINES - 999, LINES + 1)))
        if not harness.LONG:
            self.assertEqual([m["body"] for m in page], [line(i) for i in range(LINES - 1000, LINES)])

        reader.signal(2)
        self.assertEqual(reader.wait(), 130)
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main()
