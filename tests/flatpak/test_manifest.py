#!/usr/bin/env python3
"""The manifests as flatpak-builder reads them.

flatpak-builder --show-manifest exits 0 on keys it does not know and only
warns on stderr: any stderr output fails here, and what it parsed must be
exactly what the file says (nothing ignored)."""

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import tempfile
import unittest

import fpk

FLATPAK_DIR = os.path.join(fpk.SOURCE, "flatpak")
PUBLISHED = os.path.join(FLATPAK_DIR, fpk.APP_ID + ".json")
DEVEL = os.path.join(FLATPAK_DIR, fpk.APP_ID + ".Devel.json")
FINISH_ARGS = ["--share=network", "--share=ipc", "--socket=wayland", "--socket=fallback-x11",
               "--device=dri", "--talk-name=org.freedesktop.secrets"]
NGTCP2_SHA256 = "382c15bf66b630f26021631b25b7eb1feac42c67c1d6826189d61091dfaa4d09"


def local_manifest_module():
    """flatpak/local-manifest, the generator, for its idea of "the tree has the app"."""
    path = os.path.join(FLATPAK_DIR, "local-manifest")
    loader = importlib.machinery.SourceFileLoader("local_manifest", path)
    spec = importlib.util.spec_from_loader("local_manifest", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def module(manifest, name):
    found = [m for m in manifest["modules"] if m["name"] == name]
    assert len(found) == 1, "%d modules named %s" % (len(found), name)
    return found[0]


def without_quipu_sources(manifest, *keys):
    """A copy without quipu's sources and the given top-level keys."""
    copy = json.loads(json.dumps(manifest))
    for key in keys:
        copy.pop(key, None)
    module(copy, "quipu").pop("sources")
    return copy


class ManifestTest(unittest.TestCase):
    def show(self, path):
        # It makes a .flatpak-builder state directory where it runs.
        with tempfile.TemporaryDirectory(prefix="quipu-manifest-") as scratch:
            proc = subprocess.run(["flatpak-builder", "--show-manifest", path], cwd=scratch,
                                  capture_output=True, text=True, timeout=60)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual(proc.stderr, "", "flatpak-builder warns about %s" % path)
        parsed = json.loads(proc.stdout)
        self.assertEqual(parsed, load(path), "flatpak-builder read %s differently" % path)
        return parsed

    def test_published(self):
        m = self.show(PUBLISHED)
        self.assertEqual((m["id"], m["runtime"], m["sdk"], m["command"]),
                         (fpk.APP_ID, "org.gnome.Platform", "org.gnome.Sdk", "quipu"))
        # A released GNOME runtime branch, not the stand-in's.
        self.assertRegex(m["runtime-version"], r"^[0-9]+$")
        self.assertGreaterEqual(int(m["runtime-version"]), 48)
        self.assertEqual(sorted(m["finish-args"]), sorted(FINISH_ARGS))
        self.assertEqual([x["name"] for x in m["modules"]], ["ngtcp2", "quipu"])

        ngtcp2 = module(m, "ngtcp2")
        self.assertEqual(ngtcp2["sources"], [{
            "type": "archive",
            "url": "https://github.com/ngtcp2/ngtcp2/releases/download/v1.11.0/ngtcp2-1.11.0.tar.xz",
            "sha256": NGTCP2_SHA256}])
        for opt in ("-DENABLE_GNUTLS=ON", "-DENABLE_OPENSSL=OFF", "-DENABLE_LIB_ONLY=ON"):
            self.assertIn(opt, ngtcp2["config-opts"])

        quipu = module(m, "quipu")
        self.assertEqual(quipu["buildsystem"], "meson")
        self.assertIn("-Dprofile=default", quipu["config-opts"])
        # Flathub builds releases: a git tag (or an archive with its hash), never a branch or a dir.
        (source,) = quipu["sources"]
        self.assertIn(source["type"], ("git", "archive"))
        if source["type"] == "git":
            self.assertRegex(source.get("tag", ""), r"^v[0-9]+\.[0-9]+\.[0-9]+$")
            self.assertNotIn("branch", source)
        else:
            self.assertRegex(source.get("sha256", ""), r"^[0-9a-f]{64}$")

    def test_devel(self):
        published = load(PUBLISHED)
        m = self.show(DEVEL)
        self.assertEqual(m["id"], fpk.APP_ID + ".Devel")
        quipu = module(m, "quipu")
        self.assertEqual(quipu["config-opts"], ["-Dprofile=development"])
        # Otherwise the published manifest, so that the two cannot drift apart.
        module(published, "quipu").pop("config-opts")
        quipu.pop("config-opts")
        self.assertEqual(without_quipu_sources(m, "id"), without_quipu_sources(published, "id"))

    def test_local(self):
        """The manifest make flatpak built: the published one, but for the
        runtime branch and quipu's sources (the working tree)."""
        local = os.path.join(fpk.BUILD, "flatpak", fpk.APP_ID + ".local.json")
        self.assertTrue(os.path.exists(local), "%s is missing: did flatpak-build run?" % local)
        m = self.show(local)
        published = load(PUBLISHED)
        self.assertIn(m["runtime-version"], ("48-local", published["runtime-version"]))
        # Before the desktop app lands its command is quipu-cli; after, none of that.
        if local_manifest_module().has_app(fpk.SOURCE):
            self.assertEqual(m["command"], published["command"])
        else:
            self.assertEqual(m["command"], "quipu-cli")
            published["command"] = m["command"]
        self.assertEqual(without_quipu_sources(m, "runtime-version"),
                         without_quipu_sources(published, "runtime-version"))
        (source,) = module(m, "quipu")["sources"]
        self.assertEqual(source["type"], "dir")
        self.assertEqual(os.path.realpath(source["path"]), os.path.realpath(fpk.SOURCE))
        self.assertIn(".git", source["skip"])
        build_top = os.path.relpath(os.path.realpath(fpk.BUILD), os.path.realpath(fpk.SOURCE))
        if not build_top.startswith(".."):
            self.assertIn(build_top.split(os.sep)[0], source["skip"])


if __name__ == "__main__":
    fpk.main()
