#!/usr/bin/env python3
"""SSLKEYLOGFILE: a tshark capture of a chat decrypts as QUIC v1, ALPN quipu/1,
with the message body readable in the decrypted stream and nothing malformed."""

import os
import shutil
import subprocess
import time

import harness


def tshark_fields(capture, keylog, display_filter, *fields):
    argv = ["tshark", "-r", capture, "-o", "tls.keylog_file:" + keylog, "-Y", display_filter, "-T", "fields"]
    for field in fields:
        argv += ["-e", field]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        raise AssertionError("tshark failed: %s" % proc.stderr)
    return [line for line in proc.stdout.splitlines() if line.strip()]


class CaptureTest(harness.WorldTestCase):
    def test_keylog_decrypts_capture(self):
        if shutil.which("tshark") is None:
            self.fail("tshark is missing: the tshark package must be installed")
        server = harness.Server(self.world)
        capture = self.world.path("chat.pcapng")
        keylog = self.world.path("keys.log")

        dump = subprocess.Popen(["tshark", "-i", "lo", "-f", "udp port %d" % server.port, "-w", capture],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            # tshark says when the capture is really running.
            deadline = time.monotonic() + 20
            seen = ""
            while "Capture started" not in seen and "Capturing on" not in seen:
                if time.monotonic() > deadline or dump.poll() is not None:
                    raise AssertionError("tshark did not start: %s" % seen)
                seen += dump.stderr.readline()
            time.sleep(0.5)

            env = dict(self.world.env, SSLKEYLOGFILE=keylog)
            proc = subprocess.run([harness.CLI, "--server", server.address, "--user", "wireshark-fan",
                                   "send", "a body worth decrypting"],
                                  env=env, capture_output=True, text=True, timeout=30)
            self.assertEqual(proc.returncode, 0, proc.stderr)
            time.sleep(1.0)
        finally:
            dump.terminate()
            dump.wait(10)

        with open(keylog) as f:
            labels = {line.split()[0] for line in f if line.strip()}
        self.assertTrue({"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                         "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"} <= labels, labels)

        versions = tshark_fields(capture, keylog, "quic", "quic.version")
        self.assertTrue(versions)
        self.assertTrue(all(set(v.split(",")) <= {"0x00000001", ""} for v in versions), versions)
        alpn = tshark_fields(capture, keylog, "tls.handshake.extensions_alpn_str",
                             "tls.handshake.extensions_alpn_str")
        self.assertTrue(alpn)
        self.assertTrue(all(a == "quipu/1" for a in alpn), alpn)

        streams = tshark_fields(capture, keylog, "quic.stream_data", "quic.stream_data")
        decrypted = b"".join(bytes.fromhex(s.replace(":", "")) for s in streams)
        self.assertIn(b"a body worth decrypting", decrypted)

        bad = tshark_fields(capture, keylog, "_ws.malformed || _ws.expert.severity >= error", "frame.number")
        self.assertEqual(bad, [])

        # Without the key log the same capture shows no stream data at all.
        self.assertEqual(tshark_fields(capture, os.devnull, "quic.stream_data", "frame.number"), [])


if __name__ == "__main__":
    harness.main()
