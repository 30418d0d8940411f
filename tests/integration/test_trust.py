#!/usr/bin/env python3
"""Server trust: pinned on first use, refused on change, or pinned explicitly."""

import os

import harness


class TrustTest(harness.WorldTestCase):
    def test_pin_then_refuse_a_changed_certificate(self):
        first = harness.Server(self.world, data_dir=self.world.path("first"))
        address = "127.0.0.1:%d" % first.port

        rc, _, err = harness.run_cli(self.world, address, "alice", "send", "one")
        self.assertEqual(rc, 0, err)
        self.assertIn("trusting its certificate %s" % first.fingerprint, err)
        known = os.path.join(self.world.env["XDG_DATA_HOME"], "quipu", "known-servers")
        with open(known) as f:
            self.assertIn("%s %s" % (address, first.fingerprint), f.read())
        self.assertEqual(os.stat(known).st_mode & 0o777, 0o600)

        rc, _, err = harness.run_cli(self.world, address, "alice", "send", "two")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(first.stop(), 0)

        # Same address, another certificate: a different server, or an attacker.
        second = harness.Server(self.world, data_dir=self.world.path("second"), listen=address)
        self.assertNotEqual(second.fingerprint, first.fingerprint)
        rc, _, err = harness.run_cli(self.world, address, "alice", "send", "three")
        self.assertEqual(rc, 1)
        lines = err.strip().splitlines()
        self.assertEqual(len(lines), 1, err)
        self.assertIn(first.fingerprint, lines[0])
        self.assertIn(second.fingerprint, lines[0])
        self.assertIn(known, lines[0])
        self.assertIn("has changed", lines[0])

        # Nothing reached the impostor.
        self.assertNotIn("alice", second.stderr())

        # The user may accept the new server explicitly.
        rc, _, err = harness.run_cli(self.world, address, "alice", "--server-fingerprint", second.fingerprint,
                                     "send", "four")
        self.assertEqual(rc, 0, err)
        rc, _, err = harness.run_cli(self.world, address, "alice", "--server-fingerprint", first.fingerprint,
                                     "send", "five")
        self.assertEqual(rc, 1)
        self.assertIn("does not match the required fingerprint", err)

    def test_certificate_files_and_restart_keep_the_fingerprint(self):
        first = harness.Server(self.world)
        self.assertEqual(first.stop(), 0)
        again = harness.Server(self.world, data_dir=first.data_dir)
        self.assertEqual(again.fingerprint, first.fingerprint)
        self.assertEqual(again.stop(), 0)
        explicit = harness.Server(self.world, data_dir=self.world.path("other"),
                                  extra=["--cert", os.path.join(first.data_dir, "server.crt"),
                                         "--key", os.path.join(first.data_dir, "server.key")])
        self.assertEqual(explicit.fingerprint, first.fingerprint)
        self.assertFalse(os.path.exists(self.world.path("other", "server.crt")))


if __name__ == "__main__":
    harness.main()
