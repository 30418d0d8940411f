#!/usr/bin/env python3
"""One name, one key: the sandboxed quipu-cli and the native one reach the
same identity in the user's keyring.

A name is bound to the first key that claims it, so a sandbox that kept its
own key (the Secret portal's per-app file, or a key file under ~/.var/app)
would lock the user out of their own name. The app therefore talks to
org.freedesktop.secrets itself (--talk-name in the manifest). Runs under
tests/keyring-wrapper.sh: a private session bus with an unlocked
gnome-keyring, so no real keyring is touched."""

import json
import os

import fpk
import harness


def user_id(out):
    acks = [e for e in map(json.loads, out.splitlines()) if e.get("type") == "ack"]
    if len(acks) != 1:
        raise AssertionError("expected one ack in %r" % out)
    return acks[0]["sender_id"]


class KeyringTest(harness.WorldTestCase):
    def setUp(self):
        super().setUp()
        if not os.environ.get("QUIPU_PRIVATE_KEYRING") or not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            self.fail("run this test under tests/keyring-wrapper.sh (a private Secret Service)")
        bus = os.environ["DBUS_SESSION_BUS_ADDRESS"]
        self.native_env = dict(self.world.env, DBUS_SESSION_BUS_ADDRESS=bus)
        self.sandbox_env = fpk.env_for(self.world, DBUS_SESSION_BUS_ADDRESS=bus)
        self.server = harness.Server(self.world)

    def native(self, user, text):
        rc, out, err = fpk.run([harness.CLI, "--server", self.server.address, "--user", user,
                                "--json", "send", text], self.native_env)
        self.assertEqual(rc, 0, err)
        return out, err

    def sandboxed(self, user, text):
        rc, out, err = fpk.run_sandbox_cli(self.world, self.server.address, user, "--json", "send", text,
                                           env=self.sandbox_env)
        self.assertEqual(rc, 0, err)
        return out, err

    def assert_no_key_files(self, user):
        for path in (fpk.app_dir(self.world, "data", "quipu", "identities", user + ".key"),
                     os.path.join(self.world.env["XDG_DATA_HOME"], "quipu", "identities", user + ".key")):
            self.assertFalse(os.path.exists(path), "%s has a key file: not in the keyring" % path)

    def assert_one_identity(self, user, first, second):
        """The first client creates the key in the keyring; the second finds it."""
        out, err = first(user, "first")
        self.assertIn("created a new identity for %s in the keyring" % user, err)
        out2, err2 = second(user, "second")
        self.assertNotIn("created", err2)
        self.assertEqual(user_id(out2), user_id(out))
        self.assert_no_key_files(user)

    def test_native_first(self):
        self.assert_one_identity("nina", self.native, self.sandboxed)

    def test_sandbox_first(self):
        self.assert_one_identity("otto", self.sandboxed, self.native)

if __name__ == "__main__":
    fpk.main()
