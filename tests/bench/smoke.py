#!/usr/bin/env python3
"""quipu-bench, small, against a real quipu-server: part of make test so the
load generator cannot rot. Every message must reach every other member of
the room, with no error, and the server figures must come from /proc."""

import json
import os
import subprocess

import harness

BENCH = os.environ.get("QUIPU_BENCH")
SESSIONS = 20
MESSAGES = 150


class BenchSmokeTest(harness.WorldTestCase):
    def bench(self, server, *args):
        env = dict(self.world.env, G_DEBUG="fatal-warnings")
        proc = subprocess.run([BENCH, "--server", server.address, "--server-fingerprint", server.fingerprint,
                               "--server-pid", str(server.proc.pid), "--json"] + list(args),
                              env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return json.loads(proc.stdout)

    def test_fanout_delivers_everything(self):
        server = harness.Server(self.world, extra=["--sync", "normal"])
        result = self.bench(server, "fanout", "--sessions", str(SESSIONS), "--senders", "2",
                            "--messages", str(MESSAGES), "--verify-sample", "0.3")
        self.assertEqual(result["mode"], "fanout")
        self.assertEqual(result["errors"], 0)
        self.assertEqual(result["logged_in"], SESSIONS)
        self.assertEqual(result["sent"], MESSAGES)
        self.assertEqual(result["acked"], MESSAGES)
        self.assertEqual(result["expected_deliveries"], MESSAGES * (SESSIONS - 1))
        self.assertEqual(result["deliveries"], MESSAGES * (SESSIONS - 1))
        self.assertNotIn("missing_deliveries", result)
        # About 30% of the deliveries had their signature checked, all good.
        self.assertGreater(result["verified"], MESSAGES * (SESSIONS - 1) // 10)
        self.assertLess(result["verified"], MESSAGES * (SESSIONS - 1))
        self.assertGreater(result["latency_max_us"], 0)
        self.assertLessEqual(result["latency_p50_us"], result["latency_p99_us"])
        self.assertLessEqual(result["latency_p99_us"], result["latency_max_us"])
        self.assertGreater(result["server_cpu_s"], 0)
        self.assertGreater(result["server_peak_rss_kib"], 0)
        self.assertGreater(result["deliveries_per_s"], 0)

    def test_idle_reports_memory_per_connection(self):
        server = harness.Server(self.world)
        result = self.bench(server, "idle", "--sessions", "30", "--duration", "0.5")
        self.assertEqual(result["errors"], 0)
        self.assertEqual(result["logged_in"], 30)
        self.assertIn("rss_per_connection_kib", result)
        self.assertGreater(result["server_rss_kib"], result["server_rss_before_kib"])

    def test_wrong_fingerprint_is_an_error(self):
        server = harness.Server(self.world)
        env = dict(self.world.env)
        proc = subprocess.run([BENCH, "--server", server.address, "--server-fingerprint",
                               "SHA256:" + "A" * 43, "--sessions", "2", "logins"],
                              env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("quipu-bench:", proc.stderr)
        self.assertEqual(proc.stdout, "")


if __name__ == "__main__":
    harness.main()
