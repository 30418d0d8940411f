#!/usr/bin/env python3
"""Crash: quipu-server is killed with SIGKILL while three clients type.

Three `quipu-cli chat --json` clients share a room and each types numbered
lines in random bursts; meanwhile the server is killed twice, each time
right after a random burst, and restarted on the same port and data
directory. Whatever any
client saw acknowledged must survive, whatever was not must be resent, and
in the end every member shows every message exactly once, in order.

Environment: QUIPU_TEST_SEED (default 1) picks the bursts and the kill
moments; QUIPU_LONG_TESTS=1 runs the long variant by hand (10 000 messages
per client, 5 kills).
"""

import random
import time

import harness

PER_CLIENT = 10000 if harness.LONG else 1000
KILLS = 5 if harness.LONG else 2
ROOM = "durable"
USERS = ("alice", "bob", "carol")
# A keep-alive (a third of the 15 s idle timeout) and a reconnection, with
# room to spare; well short of the idle timeout itself.
RECOVERY_S = 10


class CrashTest(harness.WorldTestCase):
    def test_sigkill_while_sending(self):
        rng = random.Random(harness.SEED)
        server = harness.Server(self.world)
        clients = [harness.Client(self.world, server.address, user, "--room", ROOM, "chat", stdin=True)
                   for user in USERS]
        for client in clients:
            client.wait_event("ready")

        feeders = [harness.Feeder(client, PER_CLIENT, random.Random(rng.random())) for client in clients]
        # Each kill comes right after one client typed a burst, chosen at
        # random, so it catches messages on their way (if that client is
        # done typing by then, at once: acknowledgements still trail).
        pacer = rng.choice(feeders)
        n_bursts = len(pacer.plan)
        kill_after = sorted(rng.sample(range(n_bursts // 10, n_bursts * 9 // 10), KILLS))
        kill_times = []
        for feeder in feeders:
            feeder.start()
        for burst in kill_after:
            pacer.wait_burst(burst)
            server.crash()
            kill_times.append(time.monotonic())
            time.sleep(rng.uniform(0.05, 1.0))
            server = server.restarted(self.world)
        for feeder in feeders:
            feeder.finish()

        ledger = harness.Ledger("#" + ROOM, clients, {f.client.user: f.bodies for f in feeders})
        total = PER_CLIENT * len(clients)
        for client in clients:
            harness.wait_for(lambda: ledger.covered(client, total), 60 + total // 100,
                             lambda: "%s: %s; %s" % (client.user, ledger.check(), ledger.problems[:5]))
        figures = ledger.check()
        # Typed but not (yet) acknowledged when the server died: these had
        # to be resent. An upper bound, as acks are timed when read.
        in_flight = sum(f.typed_before(k) - sum(1 for t, _ in f.client.timed_events("ack") if t < k)
                        for f in feeders for k in kill_times)
        harness.print_figures("crash", figures, kills=KILLS, unacknowledged_at_kills=in_flight, seed=harness.SEED)
        self.assertEqual(ledger.problems, [])
        self.assertEqual((figures["acknowledged"], figures["lost"], figures["duplicated"]), (total, 0, 0))
        self.assertGreater(in_flight, 0)

        for client in clients:
            # Each client lost its connection at least once and came back.
            self.assertTrue(client.errors_seen(), client.user)
            self.assertEqual(client.events("state")[-1], {"type": "state", "state": "connected"})
            self.assertEqual(client.events("failed"), [])
            client.end_input()
        for client in clients:
            self.assertEqual(client.wait(30), 0, client.stderr())
        self.assertEqual(server.stop(), 0, server.stderr()[-3000:])

    def test_quick_restart_is_noticed(self):
        """A server restarted at once still recognises its old connections
        enough to reset them (RFC 9000 §10.3): a client that writes learns
        at once that its connection is gone, an idle one at its next
        keep-alive, instead of both waiting out the 15 s idle timeout."""
        server = harness.Server(self.world)
        writer, idle = [harness.Client(self.world, server.address, user, "--room", ROOM, "chat", stdin=True)
                        for user in ("dave", "erin")]
        for client in (writer, idle):
            client.wait_event("ready")
        time.sleep(0.5)   # quiet: no acknowledgement still on its way to the server
        server.crash()
        server = server.restarted(self.world)

        start = time.monotonic()
        sent = {"dave": ["dave after the restart"], "erin": []}
        writer.say_many(sent["dave"])
        ledger = harness.Ledger("#" + ROOM, [writer, idle], sent)
        for client in (writer, idle):
            harness.wait_for(lambda: ledger.covered(client, 1), RECOVERY_S - (time.monotonic() - start),
                             lambda: "%s: %r" % (client.user, client.lines[-5:]))
        elapsed = time.monotonic() - start
        figures = ledger.check()
        harness.print_figures("quick restart", figures, everyone_back_after="%.1f s" % elapsed)
        self.assertEqual(ledger.problems, [])
        self.assertEqual((figures["acknowledged"], figures["lost"], figures["duplicated"]), (1, 0, 0))
        for client in (writer, idle):
            self.assertIn("reset the connection", client.errors_seen()[0])
            client.end_input()
        for client in (writer, idle):
            self.assertEqual(client.wait(30), 0, client.stderr())
        self.assertEqual(server.stop(), 0, server.stderr()[-3000:])

if __name__ == "__main__":
    harness.main()
