#!/usr/bin/env python3
"""Identity keys as quipu-cli keeps them: in the keyring when a Secret Service
answers, else in a 0600 file, and never in a file others can read.

Identities move between machines as passphrase-protected exports
(quipu-cli identity export/import) and keep their name.

Runs under tests/keyring-wrapper.sh, which provides a private session bus
with an unlocked gnome-keyring (QUIPU_PRIVATE_KEYRING is set there)."""

import json
import os
import pty
import select
import shutil
import subprocess
import time

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

    def export(self, world, user, path, passphrase, extra=(), env=None):
        secret = world.path("passphrase-%s" % user)
        with open(secret, "w") as f:
            f.write(passphrase + "\n")
        proc = subprocess.run([harness.CLI, "--user", user, "--passphrase-file", secret]
                              + list(extra) + ["identity", "export", path],
                              env=env or world.env, capture_output=True, text=True, timeout=30)
        return proc.returncode, proc.stdout, proc.stderr

    def import_(self, world, user, path, passphrase, extra=(), env=None):
        env = dict(env or world.env, QUIPU_PASSPHRASE=passphrase)
        proc = subprocess.run([harness.CLI, "--user", user] + list(extra) + ["identity", "import", path],
                              env=env, capture_output=True, text=True, timeout=30)
        return proc.returncode, proc.stdout, proc.stderr

    def fresh_world(self):
        world = harness.World()
        self.addCleanup(world.cleanup)
        return world

    def test_export_import_keeps_the_name(self):
        server = harness.Server(self.world)
        rc, out, err = harness.run_cli(self.world, server.address, "kim", "--json", "send", "from home")
        self.assertEqual(rc, 0, err)
        user_id = user_id_of(out)

        path = self.world.path("kim.quipu-identity")
        rc, out, err = self.export(self.world, "kim", path, "correct horse")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, user_id + "\n")
        self.assertEqual(err.splitlines(), ["quipu-cli: exported the identity of kim to %s" % path])
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        with open(path) as f:
            self.assertTrue(f.read().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"))
        # Never over an existing file.
        rc, out, err = self.export(self.world, "kim", path, "another")
        self.assertEqual(rc, 1)
        self.assertEqual(err.splitlines(), ["quipu-cli: %s already exists" % path])

        # Another machine: a fresh HOME. Without the key the name is not kim's to take.
        away = self.fresh_world()
        rc, out, err = harness.run_cli(away, server.address, "kim", "send", "impostor")
        self.assertEqual(rc, 1)
        self.assertIn("the name kim is registered to another key", err)
        shutil.rmtree(os.path.join(away.env["XDG_DATA_HOME"], "quipu", "identities"))

        # A wrong passphrase: one line, exit 1, nothing stored.
        rc, out, err = self.import_(away, "kim", path, "wrong horse")
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertEqual(err.splitlines(), ["quipu-cli: %s: wrong passphrase" % path])
        self.assertFalse(os.path.exists(os.path.join(away.env["XDG_DATA_HOME"], "quipu", "identities")))

        rc, out, err = self.import_(away, "kim", path, "correct horse")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, user_id + "\n")
        key = os.path.join(away.env["XDG_DATA_HOME"], "quipu", "identities", "kim.key")
        self.assertEqual(err.splitlines(), ["quipu-cli: imported the identity of kim into %s" % key])
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)

        # The same name, the same user id, accepted by the server.
        rc, out, err = harness.run_cli(away, server.address, "kim", "--json", "send", "from away")
        self.assertEqual(rc, 0, err)
        self.assertEqual(user_id_of(out), user_id)
        self.assertNotIn("created", err)

    def test_import_never_replaces_another_identity(self):
        server = harness.Server(self.world)
        rc, out, err = harness.run_cli(self.world, server.address, "lou", "--json", "send", "one")
        self.assertEqual(rc, 0, err)
        path = self.world.path("lou.quipu-identity")
        rc, out, err = self.export(self.world, "lou", path, "pw")
        self.assertEqual(rc, 0, err)

        other = self.fresh_world()
        rc, out, err = harness.run_cli(other, server.address, "lou2", "--json", "send", "two")
        self.assertEqual(rc, 0, err)
        other_id = user_id_of(out)
        key = os.path.join(other.env["XDG_DATA_HOME"], "quipu", "identities", "lou2.key")
        with open(key, "rb") as f:
            before = f.read()
        rc, out, err = self.import_(other, "lou2", path, "pw")
        self.assertEqual(rc, 1)
        self.assertEqual(err.splitlines(),
                         ["quipu-cli: lou2 already has another identity (user id %s) in %s; it was left alone"
                          % (other_id, key)])
        with open(key, "rb") as f:
            self.assertEqual(f.read(), before)

        # Importing the identity that is already there is fine and changes nothing.
        mine = self.world.path("lou2.quipu-identity")
        rc, out, err = self.export(other, "lou2", mine, "pw")
        self.assertEqual(rc, 0, err)
        rc, out, err = self.import_(other, "lou2", mine, "pw")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, other_id + "\n")

    def test_keyring_export_import(self):
        if not os.environ.get("QUIPU_PRIVATE_KEYRING") or not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
            self.fail("run this test under tests/keyring-wrapper.sh (a private Secret Service)")
        env = dict(self.world.env, DBUS_SESSION_BUS_ADDRESS=os.environ["DBUS_SESSION_BUS_ADDRESS"])
        server = harness.Server(self.world)
        proc = subprocess.run([harness.CLI, "--server", server.address, "--user", "ona", "--json", "send", "hi"],
                              env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        user_id = user_id_of(proc.stdout)

        # Keyring → file on another machine.
        path = self.world.path("ona.quipu-identity")
        rc, out, err = self.export(self.world, "ona", path, "pw", env=env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, user_id + "\n")
        away = self.fresh_world()
        rc, out, err = self.import_(away, "ona", path, "pw")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, user_id + "\n")

        # File → keyring, under a name the keyring does not have yet.
        rc, out, err = self.import_(self.world, "ona-laptop", path, "pw", env=env)
        self.assertEqual(rc, 0, err)
        self.assertEqual(err.splitlines(), ["quipu-cli: imported the identity of ona-laptop into the keyring"])
        found = subprocess.run(["secret-tool", "search", "--all", "username", "ona-laptop"], env=env,
                               capture_output=True, text=True, timeout=30)
        self.assertIn("Quipu identity for ona-laptop", found.stdout + found.stderr)
        proc = subprocess.run([harness.CLI, "--server", server.address, "--user", "ona-laptop", "--json",
                               "send", "hi"], env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(user_id_of(proc.stdout), user_id)


    def run_on_terminal(self, world, argv, answers):
        """Runs quipu-cli on a pseudo-terminal of its own, typing each answer
        after the prompt before it; returns (exit code, everything shown)."""
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execve(argv[0], argv, world.env)
            finally:
                os._exit(127)
        shown = b""
        deadline = time.monotonic() + 30
        pending = list(answers)
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:         # EIO: the child closed the terminal
                break
            if not chunk:
                break
            shown += chunk
            # A prompt is the last thing shown; once answered, the line ends.
            if pending and shown.endswith(b": "):
                os.write(fd, pending.pop(0).encode() + b"\n")
        os.close(fd)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status), shown.decode()

    def test_terminal_passphrase_without_echo(self):
        server = harness.Server(self.world)
        rc, out, err = harness.run_cli(self.world, server.address, "max", "--json", "send", "hi")
        self.assertEqual(rc, 0, err)
        user_id = user_id_of(out)
        path = self.world.path("max.quipu-identity")
        export = [harness.CLI, "--user", "max", "identity", "export", path]

        rc, shown = self.run_on_terminal(self.world, export, ["tiger lily", "tiger lilly"])
        self.assertEqual(rc, 1, shown)
        self.assertIn("quipu-cli: the two passphrases differ", shown)
        self.assertFalse(os.path.exists(path))

        rc, shown = self.run_on_terminal(self.world, export, ["tiger lily", "tiger lily"])
        self.assertEqual(rc, 0, shown)
        self.assertIn("Passphrase: ", shown)
        self.assertIn("Passphrase again: ", shown)
        self.assertIn(user_id, shown)
        self.assertNotIn("tiger", shown)       # never echoed

        away = self.fresh_world()
        rc, out, err = self.import_(away, "max", path, "tiger lily")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, user_id + "\n")


if __name__ == "__main__":
    harness.main()
