#!/usr/bin/env python3
"""Rate limits: a flood is answered with rate-limited, a polite client in
the same room is not touched, and a peer cannot write the log full.

The limits are set low here by their options (the defaults are generous
enough for `quipu-cli chat` piping a file), so a short flood reaches them.
"""

import time

import abuse
import harness

ROOM = "busy"


class FloodTest(harness.WorldTestCase):
    def test_message_flood(self):
        server = harness.Server(self.world, extra=["--message-rate", "50", "--message-burst", "100"])
        reader = harness.Client(self.world, server.address, "rhea", "--room", ROOM, "listen")
        reader.wait_event("ready")
        polite = harness.Client(self.world, server.address, "pat", "--room", ROOM, "chat", stdin=True)
        polite.wait_event("ready")

        flood = abuse.Flood(self.world, server, "flood", 2000, "--user", "flo", "--room", ROOM)
        bodies = ["pat %02d" % i for i in range(40)]
        for body in bodies:                 # 10 a second, while the flood runs
            polite.say(body)
            time.sleep(0.1)
        result = flood.wait_json("flood")
        limited = result["errors"].get("rate-limited", 0)
        print("flood: %d acknowledged, %d rate-limited of 2000" % (result["acked"], limited), flush=True)
        self.assertFalse(result["closed"])
        self.assertGreater(limited, 0)
        self.assertGreater(result["acked"], 0)
        # Each refusal names the message, so the client knows what to resend.
        self.assertEqual(result["errors_with_id"], limited)
        self.assertEqual(result["acked"] + limited, 2000, result)
        self.assertEqual(abuse.stats(server)["limited-messages"], limited)

        # The polite client: every line acknowledged once, nothing refused.
        polite.wait_count("ack", len(bodies), timeout=30)
        self.assertEqual(polite.events("failed"), [])
        self.assertEqual(sorted(e["body"] for e in polite.events("ack")), bodies)
        rc, out, err = harness.run_cli(self.world, server.address, "rhea", "--room", ROOM, "--json",
                                       "history", "--limit", "1000")
        self.assertEqual(rc, 0, err)
        stored = [line for line in out.splitlines() if '"pat ' in line]
        self.assertEqual(len(stored), len(bodies), stored[:3])
        reader.wait_count("message", result["acked"] + len(bodies), timeout=30)
        self.assertEqual(reader.errors_seen(), [])
        flood.finish()
        self.assertEqual(server.stop(), 0)

    def test_join_flood(self):
        server = harness.Server(self.world, extra=["--join-rate", "5", "--join-burst", "20"])
        flood = abuse.Flood(self.world, server, "joins", 200, "--user", "jo")
        joined = flood.wait_json("joined")
        limited = joined["errors"].get("rate-limited", 0)
        self.assertFalse(joined["closed"])
        self.assertGreater(limited, 100)
        self.assertEqual(joined["ok"] + limited, 200)
        self.assertEqual(abuse.stats(server)["limited-joins"], limited)
        flood.finish()
        self.assertEqual(server.stop(), 0)

    def test_presence_coalesced(self):
        # 1 000 JOIN/LEAVE pairs once made 2 000 PRESENCE frames per member.
        server = harness.Server(self.world)
        member = harness.Client(self.world, server.address, "mia", "--room", ROOM, "listen")
        member.wait_event("ready")
        before = abuse.stats(server)
        flood = abuse.Flood(self.world, server, "churn", 1000, "--user", "chu", "--room", ROOM)
        churned = flood.wait_json("churned")
        self.assertEqual((churned["left"], churned["errors"]), (1000, {}))
        after = abuse.stats(server)
        sent = after["presence-sent"] - before["presence-sent"]
        print("presence: %d PRESENCE frames for 1000 JOIN/LEAVE pairs, %d coalesced"
              % (sent, after["presence-coalesced"] - before["presence-coalesced"]), flush=True)
        self.assertLess(sent, 200)
        self.assertGreater(after["presence-coalesced"], before["presence-coalesced"])
        # A real arrival still reaches the member.
        rc, _, err = harness.run_cli(self.world, server.address, "ned", "--room", ROOM, "send", "hello mia")
        self.assertEqual(rc, 0, err)
        member.wait_event("message", lambda e: e["body"] == "hello mia")
        self.assertGreater(abuse.stats(server)["presence-sent"], after["presence-sent"])
        flood.finish()
        self.assertEqual(server.stop(), 0)

    def test_error_flood_and_log(self):
        # 7 000 ERRORs of 1 KB used to write 7.3 MB of log in 8 s.
        server = harness.Server(self.world)
        flood = abuse.Flood(self.world, server, "errors", 3000, "--user", "erro")
        result = flood.wait_json("errors")
        self.assertTrue(result["closed"])
        self.assertIn("too many refused requests", result["reason"])
        counters = abuse.stats(server)
        self.assertEqual(counters["limited-errors"], 1)
        self.assertGreater(counters["log-lines-dropped"], 0)
        log = server.stderr()
        reported = [line for line in log.splitlines() if "reports error" in line]
        print("log: %d of 3000 reported errors logged, %d bytes of log" % (len(reported), len(log)), flush=True)
        self.assertLessEqual(len(reported), 60)
        self.assertLess(len(log), 40000)
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main()
