#!/usr/bin/env python3
"""quipu-server as an admin meets it: addresses, shutdown, QUIC housekeeping,
and one precise line for every kind of bad configuration."""

import os
import signal
import socket
import struct
import subprocess

import harness


def run_server(world, *args, timeout=10):
    proc = subprocess.run([harness.SERVER] + list(args), env=world.env, capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


def long_header(version, dcid, scid, size=1200):
    """An Initial packet header (no token) padded with noise to `size`: enough
    for a server to answer with Version Negotiation or Retry."""
    packet = bytes([0xc0]) + struct.pack(">I", version) + bytes([len(dcid)]) + dcid + bytes([len(scid)]) + scid
    rest = size - len(packet) - 3
    packet += bytes([0x00, 0x40 | (rest >> 8), rest & 0xff])
    return packet + os.urandom(rest)


class ServerTest(harness.WorldTestCase):
    def test_sigterm_says_goodbye(self):
        server = harness.Server(self.world)
        bob = harness.Client(self.world, server.address, "bob", "listen")
        bob.wait_event("ready")
        self.assertEqual(server.stop(), 0)
        error = bob.wait_event("state", lambda e: "error" in e)["error"]
        self.assertIn("shutting down", error)
        self.assertIn("shutting down", server.stderr())
        bob.signal(signal.SIGINT)
        bob.wait()

    def test_ipv6_and_dual_stack(self):
        v6 = harness.Server(self.world, data_dir=self.world.path("v6"), listen="[::1]:0")
        self.assertTrue(v6.address.startswith("[::1]:"))
        rc, _, err = harness.run_cli(self.world, v6.address, "ivy", "send", "over IPv6")
        self.assertEqual(rc, 0, err)
        self.assertEqual(v6.stop(), 0)

        both = harness.Server(self.world, data_dir=self.world.path("both"), listen="[::]:0")
        for host in ("127.0.0.1", "[::1]"):
            rc, _, err = harness.run_cli(self.world, "%s:%d" % (host, both.port), "ivy", "send", "via " + host)
            self.assertEqual(rc, 0, err)

    def test_retry_validates_addresses(self):
        server = harness.Server(self.world, extra=["--retry"])
        rc, _, err = harness.run_cli(self.world, server.address, "rita", "send", "after a retry")
        self.assertEqual(rc, 0, err)

        # A raw Initial without a token gets a Retry (long header, type 3), not a handshake.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(long_header(1, os.urandom(8), os.urandom(8)), ("127.0.0.1", server.port))
            reply, _ = s.recvfrom(2048)
        self.assertEqual(reply[0] & 0xf0, 0xf0, reply[:8].hex())

    def test_version_negotiation_and_stateless_reset(self):
        server = harness.Server(self.world)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            dcid, scid = os.urandom(8), os.urandom(8)
            s.sendto(long_header(0x1a2a3a4a, dcid, scid), ("127.0.0.1", server.port))
            reply, _ = s.recvfrom(2048)
            self.assertTrue(reply[0] & 0x80)
            self.assertEqual(reply[1:5], b"\0\0\0\0")         # version 0: Version Negotiation
            self.assertEqual(reply[6:6 + reply[5]], scid)       # echoes our ids, swapped
            offset = 6 + reply[5]
            offset += 1 + reply[offset]
            versions = [struct.unpack(">I", reply[i:i + 4])[0] for i in range(offset, len(reply), 4)]
            self.assertIn(1, versions)

            # A short-header packet for a connection that does not exist gets
            # a stateless reset, smaller than what triggered it.
            trigger = bytes([0x40 | 0x01]) + os.urandom(18) + os.urandom(80)
            s.sendto(trigger, ("127.0.0.1", server.port))
            reset, _ = s.recvfrom(2048)
            self.assertLess(len(reset), len(trigger))
            self.assertGreaterEqual(len(reset), 21)
            self.assertEqual(reset[0] & 0xc0, 0x40)

            # Garbage changes nothing for real clients.
            for size in (1, 7, 300, 1400):
                s.sendto(os.urandom(size), ("127.0.0.1", server.port))
        rc, _, err = harness.run_cli(self.world, server.address, "gus", "send", "fine")
        self.assertEqual(rc, 0, err)

    def test_room_keeps_first_spelling_across_restarts(self):
        server = harness.Server(self.world)
        first = harness.Client(self.world, server.address, "una", "--room", "Lobby", "listen")
        self.assertEqual(first.wait_event("ready")["room"], "Lobby")
        first.signal(signal.SIGINT)
        first.wait()
        self.assertEqual(server.stop(), 0)

        # No message was ever sent there: the join alone recorded the spelling.
        server = server.restarted(self.world)
        again = harness.Client(self.world, server.address, "vic", "--room", "LOBBY", "listen")
        self.assertEqual(again.wait_event("ready")["room"], "Lobby")
        rc, out, err = harness.run_cli(self.world, server.address, "vic", "--room", "lobby", "--json",
                                       "send", "hello")
        self.assertEqual(rc, 0, err)
        message = again.wait_event("message", lambda e: e["body"] == "hello")
        self.assertEqual(message["room"], "Lobby")

    def test_bad_configuration_is_one_precise_line(self):
        busy = harness.Server(self.world, data_dir=self.world.path("busy"))
        bad_conf = self.world.path("bad.conf")
        with open(bad_conf, "w") as f:
            f.write("[server]\nlisten=127.0.0.1:0\ncolour=blue\n")
        garbage = self.world.path("garbage.pem")
        with open(garbage, "w") as f:
            f.write("not a certificate\n")
        data = ["--data-dir", self.world.path("d")]
        cases = [
            (["--listen", busy.address] + data, 1, "cannot listen on %s: Address already in use" % busy.address),
            (["--listen", "nowhere"] + data, 1, "cannot listen on 'nowhere'"),
            (["--cert", "/nonexistent.pem", "--key", garbage, "--listen", "127.0.0.1:0"] + data, 1,
             "cannot read certificate /nonexistent.pem: No such file or directory"),
            (["--cert", garbage, "--key", garbage, "--listen", "127.0.0.1:0"] + data, 1,
             "%s holds no PEM certificate" % garbage),
            (["--cert", garbage, "--listen", "127.0.0.1:0"] + data, 1, "--cert and --key go together"),
            (["--config", bad_conf] + data, 2, "unknown key 'colour' in [server]"),
            (["--config", self.world.path("missing.conf")] + data, 2, "cannot read config file"),
            (["--history-days", "soon"] + data, 2, "--history-days must be a whole number, not 'soon'"),
            (["--sync", "sometimes"] + data, 2, "sync must be 'full' or 'normal'"),
            (["--listen", "127.0.0.1:0", "--data-dir", "/proc/quipu"], 1, "cannot create data directory /proc/quipu"),
        ]
        for args, code, needle in cases:
            rc, out, err = run_server(self.world, *args)
            self.assertEqual(rc, code, (args, err))
            self.assertIn(needle, err, args)
            self.assertEqual(len(err.strip().splitlines()), 1, (args, err))
        # The running server was not disturbed.
        rc, _, err = harness.run_cli(self.world, busy.address, "hal", "send", "ok")
        self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    harness.main()
