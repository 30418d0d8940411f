#!/usr/bin/env python3
"""Foreign QUIC peers: ngtcp2's own HTTP/3 examples, gtlsclient and gtlsserver.

They speak real QUIC v1 with TLS 1.3 but another application protocol (h3),
so each side must refuse the other cleanly, by ALPN, without hanging and
without disturbing anyone else.
"""

import shutil
import socket
import subprocess
import time

import harness


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ForeignPeerTest(harness.WorldTestCase):
    def setUp(self):
        super().setUp()
        for tool in ("gtlsclient", "gtlsserver"):
            if shutil.which(tool) is None:
                self.fail("%s is missing: the ngtcp2-client/ngtcp2-server packages must be installed" % tool)

    def test_gtlsclient_is_refused_and_others_keep_chatting(self):
        server = harness.Server(self.world)
        bob = harness.Client(self.world, server.address, "bob", "listen")
        bob.wait_event("ready")

        started = time.monotonic()
        subprocess.run(["gtlsclient", "-q", "--exit-on-all-streams-close", "127.0.0.1", str(server.port),
                        "https://127.0.0.1/"], env=self.world.env, capture_output=True, timeout=20)
        self.assertLess(time.monotonic() - started, 10)

        rc, _, err = harness.run_cli(self.world, server.address, "alice", "send", "still here")
        self.assertEqual(rc, 0, err)
        self.assertEqual(bob.wait_event("message")["body"], "still here")

        refusals = [line for line in server.stderr().splitlines() if "refused" in line]
        self.assertEqual(len(refusals), 1, server.stderr())
        self.assertIn("does not speak quipu/1", refusals[0])
        self.assertIn("no", refusals[0].lower())
        self.assertEqual(server.stop(), 0)

    def test_cli_against_gtlsserver_fails_clearly(self):
        # Any certificate will do; borrow the one quipu-server makes.
        server = harness.Server(self.world)
        self.assertEqual(server.stop(), 0)
        port = free_udp_port()
        peer = subprocess.Popen(["gtlsserver", "-q", "127.0.0.1", str(port),
                                 server.data_dir + "/server.key", server.data_dir + "/server.crt"],
                                cwd=self.world.dir, env=self.world.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.3)
            started = time.monotonic()
            rc, _, err = harness.run_cli(self.world, "127.0.0.1:%d" % port, "zed", "send", "hi", timeout=20)
            elapsed = time.monotonic() - started
        finally:
            peer.kill()
            peer.wait()
        self.assertEqual(rc, 1, err)
        self.assertLess(elapsed, 5)
        last = err.strip().splitlines()[-1]
        self.assertRegex(last, r"^quipu-cli: 127\.0\.0\.1:%d does not speak quipu/1 \(TLS alert 120" % port)


if __name__ == "__main__":
    harness.main()
