#!/usr/bin/env python3
"""A server, two listeners and a sender over loopback, as the README shows."""

import json

import harness


class ChatTest(harness.WorldTestCase):
    def test_room_then_direct(self):
        server = harness.Server(self.world)
        bob = harness.Client(self.world, server.address, "bob", "listen")
        carol = harness.Client(self.world, server.address, "carol", "listen")
        bob.wait_event("ready")
        carol.wait_event("ready")

        rc, out, err = harness.run_cli(self.world, server.address, "alice", "--json", "send", "hello room")
        self.assertEqual(rc, 0, err)
        acks = [json.loads(line) for line in out.splitlines() if '"ack"' in line]
        self.assertEqual(len(acks), 1, out)
        self.assertEqual(acks[0]["room"], "general")
        self.assertEqual(acks[0]["seq"], 1)

        for listener in (bob, carol):
            msg = listener.wait_event("message")
            self.assertEqual((msg["sender"], msg["body"], msg["room"]), ("alice", "hello room", "general"))
            self.assertEqual(msg["verification"], "valid")
            self.assertFalse(msg["history"])

        rc, out, err = harness.run_cli(self.world, server.address, "alice", "--to", "bob", "send", "just for bob")
        self.assertEqual(rc, 0, err)
        direct = bob.wait_event("message", lambda e: e["room"] is None)
        self.assertEqual((direct["sender"], direct["body"], direct["recipients"]), ("alice", "just for bob", ["bob"]))

        # A marker after the direct message: once carol has it, she would
        # also have had the direct message if it had reached her.
        rc, out, err = harness.run_cli(self.world, server.address, "alice", "send", "marker")
        self.assertEqual(rc, 0, err)
        carol.wait_event("message", lambda e: e["body"] == "marker")
        bob.wait_event("message", lambda e: e["body"] == "marker")
        self.assertEqual([e["body"] for e in carol.events("message")], ["hello room", "marker"])
        self.assertEqual([e["body"] for e in bob.events("message")], ["hello room", "just for bob", "marker"])

        bob.signal(2)
        carol.signal(2)
        self.assertEqual(bob.wait(), 130)
        self.assertEqual(server.stop(), 0)

    def test_text_output(self):
        server = harness.Server(self.world)
        rc, _, err = harness.run_cli(self.world, server.address, "dave", "send", "before erin")
        self.assertEqual(rc, 0, err)
        listener = harness.Process(self.world, [harness.CLI, "--server", server.address, "--user", "erin",
                                                "listen", "--timeout", "6"])
        # Text mode has no ready event: probe until erin shows one.
        for i in range(40):
            rc, _, err = harness.run_cli(self.world, server.address, "dave", "send", "probe %d" % i)
            self.assertEqual(rc, 0, err)
            if any("probe" in line for line in listener.lines):
                break
        for i in range(2):
            rc, _, err = harness.run_cli(self.world, server.address, "dave", "send", "line %d" % i)
            self.assertEqual(rc, 0, err)
        self.assertEqual(listener.wait(), 0, listener.stderr())
        text = "\n".join(listener.lines)
        self.assertRegex(text, r"\d\d:\d\d #general <dave [a-z2-7]{4}-[a-z2-7]{4}> line 0\n.*line 1")
        self.assertNotIn("before erin", text)

    def test_refusals_are_one_clear_line(self):
        server = harness.Server(self.world)
        # The first run creates frank's key and pins the server, and says so.
        rc, _, err = harness.run_cli(self.world, server.address, "frank", "send", "first")
        self.assertEqual(rc, 0, err)
        self.assertIn("created a new identity for frank", err)
        self.assertIn("trusting its certificate " + server.fingerprint, err)
        cases = [
            (["--to", "nobody", "send", "hi"], 1, "there is no user named nobody here"),
            (["--room", "bad room", "send", "hi"], 2, "--room: name contains a space"),
            (["send", "x" * 16385], 2, "message body is longer than 16384 bytes"),
            (["frobnicate"], 2, "unknown command 'frobnicate'"),
        ]
        for user, needle in (("bad name", "--user: name contains a space"),
                             ("", "--user: name is empty"),
                             ("a" * 33, "--user: name is longer than 32 characters"),
                             ("zero\u200bwidth", "--user: name contains a space, control or invisible character (U+200B)")):
            rc, out, err = harness.run_cli(self.world, server.address, user, "send", "hi")
            self.assertEqual(rc, 2, (user, err))
            self.assertIn(needle, err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
        for args, code, needle in cases:
            rc, out, err = harness.run_cli(self.world, server.address, "frank", *args)
            self.assertEqual(rc, code, (args, err))
            self.assertIn(needle, err)
            self.assertEqual(len(err.strip().splitlines()), 1, err)

        rc, _, err = harness.run_cli(self.world, "127.0.0.1:1", "frank", "send", "hi", timeout=20)
        self.assertEqual(rc, 1)
        self.assertIn("cannot reach 127.0.0.1:1", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)


if __name__ == "__main__":
    harness.main()
