#!/usr/bin/env python3
"""Identity keys as quipu-cli keeps them: in the keyring when a Secret Service
answers, else in a 0600 file, and never in a file others can read.

Runs under tests/keyring-wrapper.sh, which provides a private session bus
with an unlocked gnome-keyring (QUIPU_PRIVATE_KEYRING is set there)."""

import json
import os
import subprocess

import harness


def user_id_of(out):
    for line in out.splitlines():
        event = json.loads(line)
        if event.get("type") == "ack":
            return event["sender_id"]
    raise AssertionError("no ack in %r" % out)


class IdentityTest(harness.WorldTestCase):
    def test_key_file_is_private_and_stable(self):
        server = harness.Server(self.world)
        rc, out, err = harness.run_cli(self.world, server.address, "kim", "--json", "send", "one")
        self.assertEqual(rc, 0, err)
        path = os.path.join(self.world.env["XDG_DATA_HOME"], "quipu", "identities", "kim.key")
        self.assertIn("created a new identity for kim in %s" % path, err)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        self.assertEqual(os.stat(os.path.dirname(path)).st_mode & 0o777, 0o700)
        first_id = user_id_of(out)

        rc, out, err = harness.run_cli(self.world, server.address, "kim", "--json", "send", "two")
        self.assertEqual(rc, 0, err)
        self.assertEqual(user_id_of(out), first_id)
        self.assertNotIn("created", err)

        os.chmod(path, 0o644)
        rc, out, err = harness.run_cli(self.world, server.address, "kim", "send", "three")
        self.assertEqual(rc, 1)
        self.assertEqual(err.strip().splitlines(),
                         ["quipu-cli: identity file %s is accessible by others (mode 0644); run: chmod 600 %s"
                          % (path, path)])
        with open(path) as f:
            self.assertIn("BEGIN PRIVATE KEY", f.read())   # refused, not rewritten

    def test_identity_file_option(self):
        server = harness.Server(self.world)
        path = self.world.path("keys", "work.key")
        rc, out, err = harness.run_cli(self.world, server.address, "lee", "--json", "send", "hi", identity=path)
        self.assertEqual(rc, 0, err)
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        # Another user name with the same key is a different account: fine.
        rc, out2, err = harness.run_cli(self.world, server.address, "lee2", "--json", "send", "hi", identity=path)
        self.assertEqual(rc, 0, err)
        self.assertEqual(user_id_of(out), user_id_of(out2))

    def test_keyring(self):
        if not os.environ.get("QUIPU_PRIVATE_KEYRING") or not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            self.fail("run this test under tests/keyring-wrapper.sh (a private Secret Service)")
        env = dict(self.world.env, DBUS_SESSION_BUS_ADDRESS=os.environ["DBUS_SESSION_BUS_ADDRESS"])
        server = harness.Server(self.world)

        def send(text):
            proc = subprocess.run([harness.CLI, "--server", server.address, "--user", "mia", "--json",
                                   "send", text], env=env, capture_output=True, text=True, timeout=30)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            return proc

        first = send("one")
        self.assertIn("created a new identity for mia in the keyring", first.stderr)
        second = send("two")
        self.assertNotIn("created", second.stderr)
        self.assertEqual(user_id_of(first.stdout), user_id_of(second.stdout))
        self.assertFalse(os.path.exists(os.path.join(self.world.env["XDG_DATA_HOME"], "quipu", "identities")))

        found = subprocess.run(["secret-tool", "search", "--all", "username", "mia"], env=env,
                               capture_output=True, text=True, timeout=30)
        listing = found.stdout + found.stderr
        self.assertIn("Quipu identity for mia", listing)
        self.assertIn("io.github.quipuchat.Quipu", listing)


if __name__ == "__main__":
    harness.main()
