#!/usr/bin/env python3
"""Loss: five clients chat through a lossy, jittery, duplicating, corrupting
path, and every message reaches every client exactly once, in order.

The relay drops 10 % of the datagrams in each direction, delays each by
30 ms ± 20 ms (which also reorders them), duplicates 1 % and flips bits in
1 %. QUIC must repair all of it below the chat.

Environment: QUIPU_TEST_SEED (default 1) seeds the relay and the bursts;
QUIPU_LONG_TESTS=1 runs the long variant by hand (10 000 messages).
"""

import random

import harness

TOTAL = 10000 if harness.LONG else 2000
USERS = ("alice", "bob", "carol", "dave", "erin")
ROOM = "lossy"


class LossTest(harness.WorldTestCase):
    def test_lossy_path(self):
        rng = random.Random(harness.SEED)
        server = harness.Server(self.world)
        relay = harness.Relay(self.world, server.address, seed=harness.SEED, loss=0.10, delay=30,
                              jitter=20, duplicate=0.01, corrupt=0.01)
        clients = [harness.Client(self.world, relay.address, user, "--room", ROOM, "chat", stdin=True)
                   for user in USERS]
        for client in clients:
            client.wait_event("ready", timeout=60)

        feeders = [harness.Feeder(client, TOTAL // len(USERS), random.Random(rng.random()))
                   for client in clients]
        for feeder in feeders:
            feeder.start()
        for feeder in feeders:
            feeder.finish()

        ledger = harness.Ledger("#" + ROOM, clients, {f.client.user: f.bodies for f in feeders})
        for client in clients:
            harness.wait_for(lambda: ledger.covered(client, TOTAL), 60 + TOTAL // 50,
                             lambda: "%s: %s; %s" % (client.user, ledger.check(), ledger.problems[:5]))
        figures = ledger.check()
        stats = relay.stats()
        harness.print_figures("loss", figures, relay_dropped=stats["dropped"],
                              relay_duplicated=stats["duplicated"], relay_corrupted=stats["corrupted"],
                              seed=harness.SEED)
        self.assertEqual(ledger.problems, [])
        self.assertEqual((figures["acknowledged"], figures["lost"], figures["duplicated"]), (TOTAL, 0, 0))
        # The path really was that bad.
        self.assertGreater(stats["dropped"], stats["forwarded"] // 20)
        self.assertGreater(stats["duplicated"], 0)
        self.assertGreater(stats["corrupted"], 0)

        for client in clients:
            self.assertEqual(client.events("failed"), [])
            client.end_input()
        for client in clients:
            self.assertEqual(client.wait(60), 0, client.stderr())
        self.assertEqual(server.stop(), 0, server.stderr()[-3000:])


if __name__ == "__main__":
    harness.main()
