#!/usr/bin/env python3
"""The bundled programs, sandboxed, talking to native ones over loopback.

The app has --share=network, so loopback is the host's: a native quipu-cli
reaches the sandboxed quipu-server and the sandboxed quipu-cli a native
server, as a user's other devices would."""

import json
import os

import fpk
import harness


def events(out, kind):
    return [e for e in map(json.loads, out.splitlines()) if e.get("type") == kind]


class SandboxTest(harness.WorldTestCase):
    def test_bundled_server_serves_native_clients(self):
        server = fpk.SandboxServer(self.world)
        listener = harness.Client(self.world, server.address, "bob", "listen")
        listener.wait_event("ready", timeout=30)

        rc, out, err = harness.run_cli(self.world, server.address, "alice", "--json",
                                       "--server-fingerprint", server.fingerprint, "send", "from the host")
        self.assertEqual(rc, 0, err)
        acks = events(out, "ack")
        self.assertEqual([(a["room"], a["seq"]) for a in acks], [("general", 1)], out)

        msg = listener.wait_event("message", timeout=30)
        self.assertEqual((msg["sender"], msg["body"], msg["room"]), ("alice", "from the host", "general"))
        self.assertEqual(msg["verification"], "valid")

        # Its data lives in the app's own state directory, not in the host's
        # XDG directories: the database and the generated certificate.
        data = fpk.app_dir(self.world, ".local", "state", "quipu-server")
        self.assertTrue(os.path.isdir(data), "no %s; ~/.var/app has %r"
                        % (data, list(os.walk(fpk.app_dir(self.world)))))
        self.assertTrue(os.listdir(data), "%s is empty" % data)
        self.assertFalse(os.path.exists(os.path.join(self.world.env["XDG_STATE_HOME"], "quipu-server")))

        listener.signal(2)
        self.assertEqual(listener.wait(), 130)
        self.assertEqual(server.stop(timeout=20), 0, server.stderr())

        # A restarted sandboxed server keeps its identity and its history.
        again = fpk.SandboxServer(self.world)
        self.assertEqual(again.fingerprint, server.fingerprint)
        rc, out, err = harness.run_cli(self.world, again.address, "alice", "--json", "history")
        self.assertEqual(rc, 0, err)
        self.assertIn("from the host", [m["body"] for m in events(out, "message")], out)
        self.assertEqual(again.stop(timeout=20), 0, again.stderr())

    def test_bundled_cli_against_native_server(self):
        server = harness.Server(self.world)
        listener = harness.Client(self.world, server.address, "dora", "listen")
        listener.wait_event("ready")

        rc, out, err = fpk.run_sandbox_cli(self.world, server.address, "carl", "--json",
                                           "--server-fingerprint", server.fingerprint,
                                           "send", "from the sandbox")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(events(out, "ack")), 1, out)
        msg = listener.wait_event("message", timeout=30)
        self.assertEqual((msg["sender"], msg["body"]), ("carl", "from the sandbox"))
        self.assertEqual(msg["verification"], "valid")

        # And it listens: a native sender reaches the sandboxed listener.
        sandboxed = harness.Process(self.world, fpk.run_argv(
            "quipu-cli", "--server", server.address, "--user", "carl", "--json",
            "--server-fingerprint", server.fingerprint, "listen", "--count", "1", "--timeout", "60"),
            env=fpk.env_for(self.world))
        sandboxed.wait_line(r'"type": *"ready"', timeout=60)
        rc, out, err = harness.run_cli(self.world, server.address, "dora", "--to", "carl", "send", "to the sandbox")
        self.assertEqual(rc, 0, err)
        self.assertEqual(sandboxed.wait(60), 0, sandboxed.stderr())
        got = [json.loads(line) for line in sandboxed.lines if '"message"' in line]
        self.assertEqual([(m["sender"], m["body"], m["recipients"]) for m in got],
                         [("dora", "to the sandbox", ["carl"])])

        # Its identity key is the sandbox's own (no session bus here: a file
        # under the app's data directory), never the host's.
        key = fpk.app_dir(self.world, "data", "quipu", "identities", "carl.key")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        self.assertFalse(os.path.exists(os.path.join(self.world.env["XDG_DATA_HOME"], "quipu", "identities",
                                                     "carl.key")))
        listener.signal(2)
        listener.wait()


if __name__ == "__main__":
    fpk.main()
