#!/usr/bin/env python3
"""A full disk refuses the writes, not the readers.

The store is held to a few pages (--store-max-pages, a hidden test-only
option; the same as the store-max-pages key) so it fills up after a few
dozen 4 KiB messages, as a full disk would. The writer's messages past that
point are refused with server-error, never acknowledged; a listener in the
same room stays connected throughout and sees exactly the acknowledged
messages; the server reports the disk problem at error priority, once per
minute, not once per message.
"""

import abuse
import harness

PAGES = 64
LINES = 300
ROOM = "full"


class DiskTest(harness.WorldTestCase):
    def test_full_disk_keeps_readers(self):
        server = harness.Server(self.world, extra=["--store-max-pages", str(PAGES)])
        reader = harness.Client(self.world, server.address, "rita", "--room", ROOM, "listen")
        reader.wait_event("ready")
        writer = harness.Client(self.world, server.address, "walt", "--room", ROOM, "chat", stdin=True)
        writer.wait_event("ready")

        bodies = ["walt %04d %s" % (i, "x" * 4000) for i in range(LINES)]
        for i in range(0, LINES, 20):
            writer.say_many(bodies[i:i + 20])
        # Every line ends one way or the other: acknowledged, or refused.
        harness.wait_for(lambda: len(writer.events("ack")) + len(writer.events("failed")) >= LINES, 60,
                         lambda: "%d acks, %d refusals" % (len(writer.events("ack")), len(writer.events("failed"))))
        acked = [e["body"] for e in writer.events("ack")]
        refused = writer.events("failed")
        print("disk: %d acknowledged, %d refused, store limit %d pages" % (len(acked), len(refused), PAGES),
              flush=True)
        self.assertGreater(len(acked), 0)
        self.assertGreater(len(refused), 0, "the store never filled up")
        self.assertTrue(all("could not store" in e["error"] or "database" in e["error"] for e in refused),
                        refused[:3])

        # The reader got every acknowledged message, and only those, on the
        # one connection it opened.
        harness.wait_for(lambda: len(reader.events("message")) >= len(acked), 30,
                         lambda: "reader has %d of %d" % (len(reader.events("message")), len(acked)))
        self.assertEqual(sorted(e["body"] for e in reader.events("message")), sorted(acked))
        self.assertEqual(reader.errors_seen(), [])
        self.assertEqual([e["state"] for e in reader.events("state")], ["connected"])
        self.assertEqual(writer.errors_seen(), [])

        # The reader still works: space freed by nothing, but reads need none.
        rc, out, err = harness.run_cli(self.world, server.address, "rita", "--room", ROOM, "history",
                                       "--limit", "5")
        self.assertEqual(rc, 0, err)

        # One per failed write or commit (a failed commit refuses a whole batch).
        self.assertGreater(abuse.stats(server)["store-failures"], 0)
        self.assertEqual(server.stop(), 0)
        problems = [line for line in server.stderr().splitlines() if "store" in line]
        self.assertGreaterEqual(len(problems), 1, server.stderr()[-2000:])
        self.assertLessEqual(len(problems), 2, problems)
        self.assertTrue(problems[0].startswith("quipu-server: error: "), problems[0])


if __name__ == "__main__":
    harness.main()
