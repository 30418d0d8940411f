#!/usr/bin/env python3
"""Connections that never log in: closed by the login deadline, and no
more than max-connections-per-address at once from one address, refused
with an ERROR the client can show ("server busy"), not silence.

Asserted on the server's counters (the stats line SIGUSR1 logs), not RSS.
"""

import signal
import subprocess

import abuse
import harness

IDLE = 1000


class LoginTest(harness.WorldTestCase):
    def test_deadline_closes_idle_connections(self):
        # 1 000 connections from one address would also hit
        # max-connections-per-address (default 500), and their 1 000
        # handshakes at once max-handshakes-per-address (default 64): both
        # raised here by their options. The deadline is 3 s instead of 10
        # to keep the test short.
        server = harness.Server(self.world, extra=["--login-timeout", "3",
                                                   "--max-connections-per-address", str(2 * IDLE),
                                                   "--max-handshakes-per-address", "0"])
        listener = harness.Client(self.world, server.address, "lise", "listen")
        listener.wait_event("ready")

        idle = abuse.Flood(self.world, server, "idle", IDLE, "--wait", "60")
        opened = idle.wait_json("opened", timeout=120)
        result = idle.wait_json("idle", timeout=90)
        print("login deadline: %d handshaken, %d closed after %.1f s: %r"
              % (opened["established"], result["closed"], result["seconds"], result["reasons"]), flush=True)
        self.assertEqual(opened["established"], IDLE)
        self.assertEqual(result["closed"], IDLE)
        self.assertEqual(list(result["reasons"]), ["no CONNECT in time after the handshake"])
        counters = abuse.wait_stats(server, lambda s: s["connections"] == 1, 10, "only the listener left")
        self.assertEqual((counters["pending"], counters["login-timeouts"]), (0, IDLE))
        self.assertEqual(idle.wait(), 0)

        # The listener never noticed, and still hears the room.
        rc, _, err = harness.run_cli(self.world, server.address, "ivo", "send", "still there?")
        self.assertEqual(rc, 0, err)
        listener.wait_event("message", lambda e: e["body"] == "still there?")
        self.assertEqual(listener.errors_seen(), [])
        self.assertEqual(server.stop(), 0)

    def test_busy_per_address(self):
        server = harness.Server(self.world, extra=["--max-connections-per-address", "20",
                                                   "--login-timeout", "3"])
        idle = abuse.Flood(self.world, server, "idle", 30, "--wait", "30")
        result = idle.wait_json("idle", timeout=60)
        self.assertEqual(result["closed"], 30)
        self.assertEqual(result["reasons"], {"server busy: too many connections from your address": 10,
                                             "no CONNECT in time after the handshake": 20})
        counters = abuse.stats(server)
        self.assertEqual((counters["refused-busy"], counters["login-timeouts"]), (10, 20))

        # Once they are gone, the address may connect again.
        rc, _, err = harness.run_cli(self.world, server.address, "una", "send", "room again")
        self.assertEqual(rc, 0, err)
        self.assertEqual(server.stop(), 0)

    def test_limits_in_config_check_and_reload(self):
        conf = self.world.path("server.conf")
        with open(conf, "w") as f:
            f.write("[server]\nlogin-timeout=soon\nmessage-rate=50\njoin-burst=-1\n")
        proc = subprocess.run([harness.SERVER, "--check-config", "--config", conf, "--data-dir",
                               self.world.path("d"), "--error-rate", "many"],
                              env=self.world.env, capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(sorted(proc.stderr.splitlines()), sorted([
            "quipu-server: %s: login-timeout must be a whole number, not 'soon'" % conf,
            "quipu-server: %s: join-burst must be a whole number, not '-1'" % conf,
            "quipu-server: --error-rate must be a whole number, not 'many'",
        ]))

        # A good file; SIGHUP applies a changed limit at once and says so.
        with open(conf, "w") as f:
            f.write("[server]\nmax-rooms-per-connection=2\n")
        server = harness.Server(self.world, extra=["--config", conf])
        flood = abuse.Flood(self.world, server, "joins", 3, "--user", "rel")
        self.assertEqual(flood.wait_json("joined")["errors"], {"bad-request": 1})
        flood.finish()
        with open(conf, "w") as f:
            f.write("[server]\nmax-rooms-per-connection=5\n")
        server.signal(signal.SIGHUP)
        harness.wait_for(lambda: "changed max-rooms-per-connection from 2 to 5" in server.stderr(), 10,
                         lambda: server.stderr()[-1000:])
        flood = abuse.Flood(self.world, server, "joins", 3, "--user", "rel2")
        self.assertEqual(flood.wait_json("joined")["errors"], {})
        flood.finish()
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main()
