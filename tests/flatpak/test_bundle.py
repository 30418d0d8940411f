#!/usr/bin/env python3
"""The .flatpak bundle `make flatpak` writes installs into a fresh
installation that has only the runtime, and its programs run."""

import os
import subprocess
import unittest

import fpk
import harness


class BundleTest(harness.WorldTestCase):
    def flatpak(self, env, *args, timeout=600):
        proc = subprocess.run(["flatpak", "--user"] + list(args), env=env, capture_output=True,
                              text=True, timeout=timeout)
        self.assertEqual(proc.returncode, 0, "flatpak %s: %s" % (" ".join(args), proc.stderr))
        return proc.stdout

    def test_fresh_installation(self):
        bundle = os.path.join(fpk.BUILD, fpk.APP_ID + ".flatpak")
        self.assertTrue(os.path.isfile(bundle), "%s is missing: did flatpak-build run?" % bundle)
        runtime_repo = os.path.join(fpk.BUILD, "flatpak", "runtime-repo")
        if not os.path.exists(runtime_repo):
            raise unittest.SkipTest("built against Flathub's runtime: a fresh installation would download it")
        with open(runtime_repo, encoding="utf-8") as f:
            repo = f.read().strip()

        env = dict(self.world.env, FLATPAK_USER_DIR=self.world.path("installation"))
        self.flatpak(env, "remote-add", "--no-gpg-verify", "local-runtime", "file://" + repo)
        self.flatpak(env, "install", "--noninteractive", "local-runtime", "org.gnome.Platform//48-local")
        self.flatpak(env, "install", "--noninteractive", "--bundle", bundle)
        listed = self.flatpak(env, "list", "--app", "--columns=application")
        self.assertEqual(listed.split(), [fpk.APP_ID])
        # The app was built against the Sdk but needs only the Platform.
        self.assertNotIn("org.gnome.Sdk", self.flatpak(env, "list", "--columns=application"))

        rc, out, err = fpk.run(fpk.run_argv("quipu-cli", "--version"), env)
        self.assertEqual((rc, err), (0, ""))
        self.assertRegex(out, r"^quipu-cli [0-9]+\.[0-9]+\.[0-9]+\n$")
        rc, out, err = fpk.run(fpk.run_argv("quipu-server", "--help"), env)
        self.assertEqual(rc, 0, err)
        self.assertIn("--data-dir", out)
        self.assertIn("--listen", out)

        # And it serves: the bundle's server answers a native client.
        server = fpk.SandboxServer(self.world, env=env)
        rc, out, err = harness.run_cli(self.world, server.address, "pia", "--server-fingerprint",
                                       server.fingerprint, "send", "from a bundle")
        self.assertEqual(rc, 0, err)
        self.assertEqual(server.stop(timeout=20), 0, server.stderr())


if __name__ == "__main__":
    fpk.main()
