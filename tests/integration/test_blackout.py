#!/usr/bin/env python3
"""Blackout: the path between two clients and the server goes dead for 20 s.

alice talks to the server directly; bob and carol go through the relay,
which is cut for 20 s. Everyone keeps typing. bob and carol must notice
(a state event with an error), reconnect by themselves once the path is
back, resend what they queued and resync what alice said meanwhile, so that
every message reaches all three exactly once, in order.

Environment: QUIPU_TEST_SEED (default 1) seeds the bursts;
QUIPU_LONG_TESTS=1 runs the long variant by hand (1 000 messages per
client and phase instead of 60).
"""

import random
import time

import harness

PER_PHASE = 1000 if harness.LONG else 60
CUT_S = 20
ROOM = "blackout"


class BlackoutTest(harness.WorldTestCase):
    def type_phase(self, rng, clients, phase):
        feeders = [harness.Feeder(client, PER_PHASE, random.Random(rng.random()), first=phase * PER_PHASE)
                   for client in clients]
        for feeder in feeders:
            feeder.start()
        for feeder in feeders:
            feeder.finish()
        return feeders

    def test_cut_for_20_seconds(self):
        rng = random.Random(harness.SEED)
        server = harness.Server(self.world)
        relay = harness.Relay(self.world, server.address, seed=harness.SEED)
        alice = harness.Client(self.world, server.address, "alice", "--room", ROOM, "chat", stdin=True)
        cut_off = [harness.Client(self.world, relay.address, user, "--room", ROOM, "chat", stdin=True)
                   for user in ("bob", "carol")]
        clients = [alice] + cut_off
        for client in clients:
            client.wait_event("ready")

        sent = {client.user: [] for client in clients}
        for phase in range(3):
            if phase == 1:
                relay.cut()
                cut_at = time.monotonic()
            for feeder in self.type_phase(rng, clients, phase):
                sent[feeder.client.user] += feeder.bodies
            if phase == 1:
                # alice's side of the cut goes on as usual.
                harness.wait_for(lambda: len(alice.events("ack")) == 2 * PER_PHASE, 30,
                                 lambda: "alice has %d acks" % len(alice.events("ack")))
                for client in cut_off:
                    harness.wait_for(client.errors_seen, CUT_S + 5,
                                     lambda: "%s never noticed the cut" % client.user)
                time.sleep(max(0.0, cut_at + CUT_S - time.monotonic()))
                relay.restore()
                restored_at = time.monotonic()
                stats = relay.stats()

        ledger = harness.Ledger("#" + ROOM, clients, sent)
        total = 3 * 3 * PER_PHASE
        for client in clients:
            harness.wait_for(lambda: ledger.covered(client, total), 90,
                             lambda: "%s: %s; %s" % (client.user, ledger.check(), ledger.problems[:5]))
        figures = ledger.check()
        noticed = max(min(t for t, e in c.timed_events("state") if e.get("error")) for c in cut_off) - cut_at
        back = max(min(t for t, e in c.timed_events("state") if t > restored_at and e.get("state") == "connected")
                   for c in cut_off) - restored_at
        harness.print_figures("blackout", figures, cut_seconds=CUT_S, datagrams_cut=stats["cut"],
                              noticed_after="%.1f s" % noticed, reconnected_after_restore="%.1f s" % back,
                              seed=harness.SEED)
        self.assertEqual(ledger.problems, [])
        self.assertEqual((figures["acknowledged"], figures["lost"], figures["duplicated"]), (total, 0, 0))
        self.assertGreater(stats["cut"], 0)

        self.assertEqual(alice.errors_seen(), [])
        for client in cut_off:
            states = client.events("state")
            self.assertTrue(client.errors_seen(), client.user)
            self.assertEqual(states[-1], {"type": "state", "state": "connected"})
        for client in clients:
            self.assertEqual(client.events("failed"), [])
            client.end_input()
        for client in clients:
            self.assertEqual(client.wait(30), 0, client.stderr())
        self.assertEqual(server.stop(), 0, server.stderr()[-3000:])


if __name__ == "__main__":
    harness.main()
