#!/usr/bin/env python3
"""Offline: direct messages to a user who is away reach them at their next
login, once.

bob logs in once (so his name exists), leaves, and alice and carol write to
him. His next login shows every one of those messages as new, in inbox
order; the login after that shows them only as history. alice's own copies
(a direct message is in the sender's inbox too) are no news to her either.

Environment: QUIPU_LONG_TESTS=1 runs the long variant by hand (450
messages from each sender instead of 10).
"""

import harness

# A login brings at most 1 000 undelivered messages (PROTOCOL.md, "Inbox on
# connect"): the long variant stays below that.
PER_SENDER = 450 if harness.LONG else 10


def direct_events(client):
    return [e for e in client.events("message") if e["conversation"].startswith("@")]


class OfflineTest(harness.WorldTestCase):
    def send_direct(self, server, sender, bodies):
        """Types the bodies to bob in one chat session; returns their acks."""
        client = harness.Client(self.world, server.address, sender, "--to", "bob", "chat", stdin=True)
        client.wait_event("state", lambda e: e.get("state") == "connected")
        client.say_many(bodies)
        client.end_input()
        self.assertEqual(client.wait(60), 0, client.stderr())
        acks = client.events("ack")
        self.assertEqual([a["body"] for a in acks], bodies)
        self.assertTrue(all(a["conversation"] == "@bob" and a["recipients"] == ["bob"] for a in acks), acks[:3])
        return acks

    def login_until(self, server, user, marker_sender, marker, history=0):
        """Logs `user` in (showing `history` earlier inbox messages) and keeps
        the session until a direct message sent after login has arrived:
        everything queued for it came before."""
        client = harness.Client(self.world, server.address, user, "--history", str(history), "listen")
        client.wait_event("state", lambda e: e.get("state") == "connected")
        rc, out, err = harness.run_cli(self.world, server.address, marker_sender, "--to", user, "send", marker)
        self.assertEqual(rc, 0, err)
        client.wait_event("message", lambda e: e["body"] == marker)
        client.signal(2)
        self.assertEqual(client.wait(), 130, client.stderr())
        return client

    def test_direct_messages_wait_for_next_login(self):
        server = harness.Server(self.world)
        rc, _, err = harness.run_cli(self.world, server.address, "bob", "listen", "--timeout", "1")
        self.assertEqual(rc, 0, err)

        queued, acked = [], 0
        for sender in ("alice", "carol"):
            bodies = ["%s to bob %04d" % (sender, i) for i in range(PER_SENDER)]
            queued += [(sender, body) for body in bodies]
            acked += len(self.send_direct(server, sender, bodies))

        first = self.login_until(server, "bob", "alice", "welcome back")
        # The next login shows them again only as history, once each.
        second = self.login_until(server, "bob", "carol", "again", history=len(queued) + 1)
        shown = [(e["sender"], e["body"]) for e in direct_events(first) if not e["history"]]
        new = [(e["sender"], e["body"]) for e in direct_events(second) if not e["history"]]
        history = [(e["sender"], e["body"]) for e in direct_events(second) if e["history"]]
        lost = len(set(queued) - set(shown))
        duplicated = len(shown) - len(set(shown)) + sum(1 for e in new if e in queued)
        print("offline: sent %d, acknowledged %d, delivered %d, lost %d, duplicated %d"
              % (len(queued), acked, len(set(shown) & set(queued)), lost, duplicated), flush=True)

        self.assertEqual((lost, duplicated), (0, 0))
        self.assertEqual(shown, queued + [("alice", "welcome back")])
        seqs = [e["seq"] for e in direct_events(first)]
        self.assertEqual(seqs, sorted(set(seqs)))
        # bob's conversation key names the other person (PROTOCOL.md, "Conversation keys").
        self.assertTrue(all(e["recipients"] == ["bob"] and e["verification"] == "valid"
                            and e["conversation"] == "@" + e["sender"]
                            for e in direct_events(first)))
        self.assertEqual(new, [("carol", "again")])
        self.assertEqual(history, queued + [("alice", "welcome back")])

        # What alice wrote is in her inbox too, but it reached her (as the
        # acknowledgements): it is no news at her next login either.
        alice = self.login_until(server, "alice", "carol", "hi alice")
        self.assertEqual([e["body"] for e in direct_events(alice) if not e["history"]], ["hi alice"])
        self.assertEqual(server.stop(), 0, server.stderr()[-3000:])


if __name__ == "__main__":
    harness.main()
