#!/usr/bin/env python3
"""State that only grows: rooms, names, per connection and per address.

Memory is asserted on the server's own counters (the stats line SIGUSR1
logs), not on RSS, which glibc does not return promptly.
"""

import abuse
import harness

JOINS = 10000


class RoomsTest(harness.WorldTestCase):
    def test_rooms_leave_memory(self):
        # 10 000 JOINs would hit two other limits of the server: the rooms
        # one connection may be in and the joins a user may make at once.
        # Both are raised here, by their options, so this test sees only
        # whether empty rooms leave memory.
        server = harness.Server(self.world, extra=["--max-rooms-per-connection", str(JOINS),
                                                   "--join-burst", str(2 * JOINS)])
        listener = harness.Client(self.world, server.address, "lena", "listen")
        listener.wait_event("ready")
        base = abuse.stats(server)["rooms"]
        self.assertEqual(base, 1)                     # lena's general

        flood = abuse.Flood(self.world, server, "joins", JOINS, "--user", "joiner")
        joined = flood.wait_json("joined")
        self.assertEqual((joined["ok"], joined["errors"], joined["closed"]), (JOINS, {}, False))
        self.assertEqual(abuse.stats(server)["rooms"], base + JOINS)

        flood.command("leave")
        self.assertEqual(flood.wait_json("left")["ok"], JOINS)
        after_leave = abuse.stats(server)
        print("rooms: %d joined, %d in memory after LEAVE" % (JOINS, after_leave["rooms"] - base), flush=True)
        self.assertEqual(after_leave["rooms"], base)
        self.assertEqual(flood.finish(), 0)

        # Disconnecting leaves every room too.
        flood = abuse.Flood(self.world, server, "joins", JOINS, "--user", "quitter")
        self.assertEqual(flood.wait_json("joined")["ok"], JOINS)
        self.assertEqual(flood.finish(), 0)
        after_close = abuse.wait_stats(server, lambda s: s["connections"] == 1, 20, "the flood's connection to end")
        self.assertEqual(after_close["rooms"], base)

        # The store still knows the rooms; the listener never noticed.
        self.assertEqual(listener.errors_seen(), [])
        self.assertEqual(server.stop(), 0)

    def test_rooms_per_connection(self):
        server = harness.Server(self.world, extra=["--max-rooms-per-connection", "300"])
        flood = abuse.Flood(self.world, server, "joins", 400, "--user", "greedy")
        joined = flood.wait_json("joined")
        self.assertEqual((joined["ok"], joined["errors"], joined["closed"]), (300, {"bad-request": 100}, False))
        self.assertEqual(abuse.stats(server)["refused-rooms"], 100)
        self.assertEqual(flood.finish(), 0)
        self.assertEqual(server.stop(), 0)

    def test_registrations_per_address(self):
        server = harness.Server(self.world, extra=["--registrations-per-hour", "3"])
        for name in ("ann", "ben", "cat"):
            rc, _, err = harness.run_cli(self.world, server.address, name, "send", "hi")
            self.assertEqual(rc, 0, err)
        rc, _, err = harness.run_cli(self.world, server.address, "dan", "send", "hi")
        self.assertNotEqual(rc, 0)
        self.assertIn("too many new names from your address", err)
        # Names already registered still log in.
        rc, _, err = harness.run_cli(self.world, server.address, "ann", "send", "again")
        self.assertEqual(rc, 0, err)
        counters = abuse.stats(server)
        self.assertEqual(counters["refused-registrations"], 1)
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main()
