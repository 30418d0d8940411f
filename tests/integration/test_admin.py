#!/usr/bin/env python3
"""quipu-server as an admin runs it for months: the config checked before a
restart, a reload without one, an online backup restored elsewhere, and a
database from the first release opened by this one.

Environment: QUIPU_TEST_SEED (default 1) shapes the bursts of the writer
during the backup.
"""

import json
import os
import random
import re
import shutil
import signal
import sqlite3
import stat
import subprocess

import harness

SRCDIR = os.environ.get("G_TEST_SRCDIR", os.path.join(os.path.dirname(__file__), ".."))
ROOM = "ledger"


def run_server(world, *args, timeout=30):
    proc = subprocess.run([harness.SERVER] + list(args), env=world.env, capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def room_history(world, server, user, room, total):
    """Every message of a room through `quipu-cli history`, paging back from
    the newest; returns the message events, oldest first."""
    messages, before = [], total + 1
    while before > 1:
        rc, out, err = harness.run_cli(world, server.address, user, "--room", room, "--json", "history",
                                       "--before", str(before), "--limit", "1000")
        if rc != 0:
            raise AssertionError("history before %d: %s" % (before, err))
        page = [e for e in map(json.loads, out.splitlines()) if e["type"] == "message"]
        if not page:
            break
        messages = page + messages
        before = page[0]["seq"]
    return messages


class AdminTest(harness.WorldTestCase):
    def make_certificate(self):
        """A certificate and key as an admin would have them: the pair a
        server generated in its data directory."""
        server = harness.Server(self.world, data_dir=self.world.path("certs"))
        self.assertEqual(server.stop(), 0)
        return self.world.path("certs", "server.crt"), self.world.path("certs", "server.key")

    def write(self, name, text):
        path = self.world.path(name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_check_config_good_and_bad(self):
        cert, key = self.make_certificate()
        running = harness.Server(self.world, data_dir=self.world.path("running"))
        good = self.write("good.conf", "[server]\nlisten=%s\ndata-dir=%s\ncert=%s\nkey=%s\nretry=true\n"
                          "history-days=30\nhistory-max-per-room=500\nsync=normal\nlog-level=debug\n"
                          % (running.address, self.world.path("running"), cert, key))
        # Checking binds nothing: the address of the running server is fine.
        self.assertEqual(run_server(self.world, "--check-config", "--config", good), (0, "", ""))

        # The example config as installed, with the data directory the unit gives.
        example = os.path.join(SRCDIR, "..", "data", "server.conf")
        self.assertEqual(run_server(self.world, "--check-config", "--config", example,
                                    "--data-dir", self.world.path("state")), (0, "", ""))
        self.assertFalse(os.path.exists(self.world.path("state")), "--check-config created the data directory")

        garbage = self.write("garbage.pem", "not a certificate\n")
        bad = self.write("bad.conf", "[server]\ncolour=blue\nhistory-days=soon\nsync=sometimes\n"
                         "retry=maybe\nlisten=nowhere\ncert=%s\n" % garbage)
        expected = [
            "%s: unknown key 'colour' in [server]" % bad,
            "%s: history-days must be a whole number, not 'soon'" % bad,
            "%s: sync must be 'full' or 'normal', not 'sometimes'" % bad,
            "%s: retry must be true or false, not 'maybe'" % bad,
            "cannot listen on 'nowhere'",
            "--cert and --key go together",
        ]
        rc, out, err = run_server(self.world, "--check-config", "--config", bad)
        self.assertEqual((rc, out), (1, ""), err)
        lines = err.splitlines()
        self.assertEqual(len(lines), len(expected), err)
        for needle in expected:
            self.assertEqual(len([line for line in lines if needle in line]), 1, (needle, err))
        self.assertTrue(all(line.startswith("quipu-server: ") for line in lines), err)

        # Command-line options are checked with the file, and a pair that
        # does not load is one line.
        cases = [
            (["--config", good, "--cert", garbage, "--key", garbage], "%s holds no PEM certificate" % garbage),
            (["--config", good, "--key", cert], "%s holds no PEM private key" % cert),
            (["--config", good, "--log-level", "loud"], "log-level must be 'warning', 'info' or 'debug'"),
            (["--config", self.world.path("missing.conf")], "cannot read config file"),
            (["--config", good, "--data-dir", garbage + "/below"], "is not a directory"),
        ]
        for args, needle in cases:
            rc, out, err = run_server(self.world, "--check-config", *args)
            self.assertEqual(rc, 1, (args, err))
            self.assertIn(needle, err, args)
            self.assertEqual(len(err.splitlines()), 1, (args, err))

        # The running server was not disturbed.
        rc, _, err = harness.run_cli(self.world, running.address, "hal", "send", "still here")
        self.assertEqual(rc, 0, err)

    def test_sighup_reloads_what_it_can(self):
        conf = self.write("server.conf", "[server]\nhistory-max-per-room=0\n")
        server = harness.Server(self.world, extra=["--config", conf])
        for i in range(5):
            rc, _, err = harness.run_cli(self.world, server.address, "ann", "--room", ROOM, "send", "m%d" % i)
            self.assertEqual(rc, 0, err)

        # A bad file changes nothing and says why.
        self.write("server.conf", "[server]\nhistory-max-per-room=few\n")
        server.signal(signal.SIGHUP)
        harness.wait_for(lambda: "cannot reload" in server.stderr(), 10, "the refused reload logged")
        self.assertIn("keeping the running one: %s: history-max-per-room must be a whole number" % conf,
                      server.stderr())
        self.assertEqual([e["body"] for e in room_history(self.world, server, "bea", ROOM, 5)],
                         ["m%d" % i for i in range(5)])

        # Retention applies at once; retry needs a restart and is reported so.
        self.write("server.conf", "[server]\nhistory-max-per-room=2\nlog-level=warning\nretry=true\n")
        server.signal(signal.SIGHUP)
        harness.wait_for(lambda: "configuration reloaded" in server.stderr(), 10, "the reload logged")
        reload_lines = [line for line in server.stderr().splitlines() if "configuration reloaded" in line]
        self.assertEqual(reload_lines, ["quipu-server: configuration reloaded: changed history-max-per-room "
                                        "from 0 to 2, log-level from info to warning; needs a restart: retry"])
        self.assertEqual([e["body"] for e in room_history(self.world, server, "bea", ROOM, 5)], ["m3", "m4"])

        # log-level=warning took effect: new connections are no longer logged.
        logged = server.stderr()
        rc, _, err = harness.run_cli(self.world, server.address, "cy", "send", "quiet now")
        self.assertEqual(rc, 0, err)
        self.assertEqual(server.stderr(), logged)

        # Reloading the same file again changes nothing, and says that.
        server.signal(signal.SIGHUP)
        harness.wait_for(lambda: server.stderr().count("configuration reloaded") == 2, 10, "second reload")
        self.assertIn("configuration reloaded: nothing changed; needs a restart: retry", server.stderr())
        self.assertEqual(server.stop(), 0)

    def test_backup_while_messages_flow(self):
        rng = random.Random(harness.SEED)
        total = 1500
        server = harness.Server(self.world)
        writer = harness.Client(self.world, server.address, "scribe", "--room", ROOM, "chat", stdin=True)
        writer.wait_event("ready")
        feeder = harness.Feeder(writer, total, rng)
        feeder.start()

        backups = []
        for burst in (8, 20):
            self.assertTrue(feeder.wait_burst(burst), "typing ended before burst %d" % burst)
            acked_before = {e["seq"] for e in writer.events("ack")}
            dest = self.world.path("backup-%d.db" % burst)
            rc, out, err = run_server(self.world, "--backup", dest, "--data-dir", server.data_dir)
            self.assertEqual(rc, 0, err)
            match = re.fullmatch(r"backup of (.*) written to (.*): (\d+) messages\n", out)
            self.assertIsNotNone(match, out)
            self.assertEqual(match.group(2), dest)
            self.assertEqual(stat.S_IMODE(os.stat(dest).st_mode), 0o600)
            backups.append((dest, int(match.group(3)), acked_before))

        feeder.finish()
        writer.end_input()
        self.assertEqual(writer.wait(120), 0, writer.stderr())
        acks = {e["seq"]: e["body"] for e in writer.events("ack")}
        self.assertEqual(sorted(acks), list(range(1, total + 1)))
        # The server served on while the backups ran: acks kept coming after them.
        self.assertGreater(len(backups[-1][2]), len(backups[0][2]))
        self.assertTrue(backups[-1][2], "no message was acknowledged before the second backup")
        self.assertGreater(total, backups[-1][1])

        # Overwriting an earlier backup is refused, the file left alone.
        size = os.path.getsize(backups[0][0])
        rc, out, err = run_server(self.world, "--backup", backups[0][0], "--data-dir", server.data_dir)
        self.assertEqual((rc, out), (1, ""))
        self.assertIn("cannot create backup file %s" % backups[0][0], err)
        self.assertEqual(os.path.getsize(backups[0][0]), size)

        for dest, count, acked_before in backups:
            # Everything acknowledged before the backup began is in it.
            self.assertGreaterEqual(count, max(acked_before, default=0), dest)
            data_dir = self.world.path("restored-%s" % os.path.basename(dest))
            os.makedirs(data_dir, mode=0o700)
            shutil.copy(dest, os.path.join(data_dir, "quipu.db"))
            fresh = harness.Server(self.world, data_dir=data_dir)
            served = room_history(self.world, fresh, "auditor", ROOM, count)
            self.assertEqual([(e["seq"], e["body"]) for e in served],
                             [(seq, acks[seq]) for seq in range(1, count + 1)], dest)
            self.assertTrue(all(e["verification"] == "valid" for e in served))
            self.assertEqual(fresh.stop(), 0)
        print("backup: sent %d, backups of %s messages, acknowledged before them %s"
              % (total, [b[1] for b in backups], [len(b[2]) for b in backups]), flush=True)
        self.assertEqual(server.stop(), 0)

    def test_database_of_the_first_release(self):
        data_dir = self.world.path("old")
        os.makedirs(data_dir, mode=0o700)
        with open(os.path.join(SRCDIR, "data", "quipu-db-v1.sql")) as f:
            dump = f.read()
        db = sqlite3.connect(os.path.join(data_dir, "quipu.db"))
        db.executescript(dump)
        db.close()

        # Its messages are from 2026: keep them whatever today's date.
        server = harness.Server(self.world, data_dir=data_dir, extra=["--history-days", "0"])
        lobby = room_history(self.world, server, "dora", "Lobby", 3)
        self.assertEqual([(e["seq"], e["sender"], e["body"], e["verification"]) for e in lobby], [
            (1, "Alice", "first words in the lobby", "valid"),
            (2, "bob", "bob answers", "valid"),
            (3, "Alice", "ünïcödé ✓ and a 'quote'", "valid"),
        ])
        kitchen = room_history(self.world, server, "dora", "kitchen", 1)
        self.assertEqual([(e["room"], e["body"]) for e in kitchen], [("Kitchen", "kettle's on")])
        # The names are still taken by their keys.
        rc, _, err = harness.run_cli(self.world, server.address, "alice", "send", "mine now?")
        self.assertEqual(rc, 1)
        self.assertIn("the name alice is registered to another key", err)
        self.assertEqual(server.stop(), 0)


if __name__ == "__main__":
    harness.main()
