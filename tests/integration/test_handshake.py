#!/usr/bin/env python3
"""Handshakes cannot exhaust the server, and its refusals are said, not
silent: handshakes in progress are limited per address and refused with a
CONNECTION_CLOSE the client reports as "server busy"; many of them at once
switch Retry on until they fall; and the server keeps a connection alive
only once it has logged in.

Asserted on the server's counters (the stats line SIGUSR1 logs), not RSS.
"""

import signal
import types

import abuse
import harness

HALF_OPEN = 100
PER_ADDRESS = 64   # the default of max-handshakes-per-address


def at(server, host):
    """The server as seen at another of its addresses, for quipu-flood."""
    return types.SimpleNamespace(address="%s:%d" % (host, server.port))


class HandshakeTest(harness.WorldTestCase):
    def test_half_open_handshakes_refused_as_busy(self):
        # Dual stack: the flood comes from 127.0.0.1, the listener and one
        # sender from ::1, another address with its own count.
        server = harness.Server(self.world, listen="[::]:0")
        v4 = at(server, "127.0.0.1")
        v6 = at(server, "[::1]")
        listener = harness.Client(self.world, v6.address, "lise", "listen")
        listener.wait_event("ready")

        flood = abuse.Flood(self.world, v4, "halfopen", HALF_OPEN)
        self.assertEqual(flood.wait_json("halfopen")["sent"], HALF_OPEN)
        self.assertEqual(flood.wait(), 0)
        counters = abuse.wait_stats(server, lambda s: s["handshakes-in-progress"] + s["refused-handshakes"]
                                    >= HALF_OPEN, 10, "every Initial held or refused")
        print("half-open: %d in progress, %d refused" % (counters["handshakes-in-progress"],
                                                         counters["refused-handshakes"]), flush=True)
        self.assertEqual(counters["handshakes-in-progress"], PER_ADDRESS)
        self.assertEqual(counters["refused-handshakes"], HALF_OPEN - PER_ADDRESS)
        self.assertEqual(counters["retries-sent"], 0)

        # A real client from that address is told why, at once.
        rc, _, err = harness.run_cli(self.world, v4.address, "vic", "send", "let me in")
        self.assertNotEqual(rc, 0)
        self.assertIn("quipu-cli: server busy: too many handshakes in progress from your address\n", err)
        self.assertGreater(abuse.stats(server)["refused-handshakes"], HALF_OPEN - PER_ADDRESS)

        # Another address is not held back, and the listener hears it.
        rc, _, err = harness.run_cli(self.world, v6.address, "ivo", "send", "still there?")
        self.assertEqual(rc, 0, err)
        listener.wait_event("message", lambda e: e["body"] == "still there?")

        # The half-open ones end with the 10 s handshake timeout, and the
        # address may connect again.
        abuse.wait_stats(server, lambda s: s["handshakes-in-progress"] == 0, 25, "half-open handshakes timed out")
        rc, _, err = harness.run_cli(self.world, v4.address, "vic", "send", "let me in")
        self.assertEqual(rc, 0, err)
        listener.wait_event("message", lambda e: e["body"] == "let me in")
        self.assertEqual(listener.errors_seen(), [])
        self.assertEqual(server.stop(), 0)

    def test_busy_handshakes_reported_by_flood(self):
        # Refused connections report the server's reason; the limit is low
        # so the test stays small.
        server = harness.Server(self.world, extra=["--max-handshakes-per-address", "4"])
        halfopen = abuse.Flood(self.world, server, "halfopen", 4)
        self.assertEqual(halfopen.wait(), 0)
        abuse.wait_stats(server, lambda s: s["handshakes-in-progress"] == 4, 10, "4 half-open handshakes")
        idle = abuse.Flood(self.world, server, "idle", 3, "--wait", "5")
        self.assertEqual(idle.wait_json("opened")["established"], 0)
        result = idle.wait_json("idle")
        self.assertEqual(result["reasons"], {"server busy: too many handshakes in progress from your address": 3})
        self.assertEqual(idle.wait(), 0)
        self.assertEqual(server.stop(), 0)

    def test_handshake_limit_reloads(self):
        conf = self.world.path("server.conf")
        with open(conf, "w") as f:
            f.write("[server]\nmax-handshakes-per-address=2\n")
        server = harness.Server(self.world, extra=["--config", conf])
        self.assertEqual(abuse.Flood(self.world, server, "halfopen", 4).wait(), 0)
        counters = abuse.wait_stats(server, lambda s: s["handshakes-in-progress"] + s["refused-handshakes"] >= 4,
                                    10, "4 Initials held or refused")
        self.assertEqual((counters["handshakes-in-progress"], counters["refused-handshakes"]), (2, 2))

        # SIGHUP raises it at once, for handshakes not yet over.
        with open(conf, "w") as f:
            f.write("[server]\nmax-handshakes-per-address=4\n")
        server.signal(signal.SIGHUP)
        harness.wait_for(lambda: "changed max-handshakes-per-address from 2 to 4" in server.stderr(), 10,
                         lambda: server.stderr()[-1000:])
        self.assertEqual(abuse.Flood(self.world, server, "halfopen", 3).wait(), 0)
        counters = abuse.wait_stats(server, lambda s: s["handshakes-in-progress"] + s["refused-handshakes"] >= 7,
                                    10, "7 Initials held or refused")
        self.assertEqual((counters["handshakes-in-progress"], counters["refused-handshakes"]), (4, 3))
        self.assertEqual(server.stop(), 0)

    def test_retry_switches_on_under_load(self):
        # Retry from 5 handshakes in progress on: the half-open ones past
        # that only get a Retry, and hold nothing.
        server = harness.Server(self.world, extra=["--retry-threshold", "5"])
        halfopen = abuse.Flood(self.world, server, "halfopen", 10)
        self.assertEqual(halfopen.wait(), 0)
        counters = abuse.wait_stats(server, lambda s: s["handshakes-in-progress"] + s["retries-sent"] >= 10,
                                    10, "every Initial held or retried")
        self.assertEqual((counters["handshakes-in-progress"], counters["retries-sent"]), (5, 5))

        # Real clients still get in, through a Retry each.
        idle = abuse.Flood(self.world, server, "idle", 20, "--wait", "0")
        self.assertEqual(idle.wait_json("opened")["established"], 20)
        self.assertEqual(idle.wait(), 0)
        rc, _, err = harness.run_cli(self.world, server.address, "rita", "send", "through a retry")
        self.assertEqual(rc, 0, err)
        counters = abuse.stats(server)
        print("auto-retry: %d retries sent" % counters["retries-sent"], flush=True)
        self.assertGreaterEqual(counters["retries-sent"], 5 + 20 + 1)
        self.assertEqual(counters["refused-handshakes"], 0)

        # Once the half-open ones time out, no more Retry.
        abuse.wait_stats(server, lambda s: s["handshakes-in-progress"] == 0, 25, "half-open handshakes timed out")
        before = abuse.stats(server)["retries-sent"]
        rc, _, err = harness.run_cli(self.world, server.address, "rita", "send", "no retry now")
        self.assertEqual(rc, 0, err)
        self.assertEqual(abuse.stats(server)["retries-sent"], before)
        self.assertEqual(server.stop(), 0)

    def test_keep_alive_only_after_login(self):
        # The login deadline is off, so only the idle timeout (15 s, the
        # client's) can close what never logs in. The flood's connections
        # send no keep-alive of their own: whatever stays open, the server
        # keeps.
        server = harness.Server(self.world, extra=["--login-timeout", "0"])
        member = abuse.Flood(self.world, server, "joins", 1, "--no-keep-alive", "--user", "kim")
        self.assertEqual(member.wait_json("joined")["ok"], 1)
        idle = abuse.Flood(self.world, server, "idle", 20, "--no-keep-alive", "--wait", "40")
        self.assertEqual(idle.wait_json("opened")["established"], 20)
        result = idle.wait_json("idle", timeout=60)
        print("not logged in, no keep-alive: %d closed after %.1f s: %r"
              % (result["closed"], result["seconds"], result["reasons"]), flush=True)
        self.assertEqual(result["closed"], 20)
        self.assertGreater(result["seconds"], 10)
        self.assertEqual(idle.wait(), 0)
        counters = abuse.wait_stats(server, lambda s: s["connections"] == 1, 20, "only the member left")
        self.assertEqual(counters["users"], 1)

        # The logged-in one has been idle as long, and is still served.
        member.command("leave")
        self.assertEqual(member.wait_json("left")["ok"], 1)
        self.assertEqual(member.finish(), 0)
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main()
