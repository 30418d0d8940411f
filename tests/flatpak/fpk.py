"""What the flatpak suite shares: the app as `make flatpak` installed it.

The flatpak-build test (flatpak/build) builds and installs the app first and
writes BUILD/flatpak/installation, the Flatpak installation it used (the
private one with the stand-in runtime on machines without Flathub). Every
other test runs the installed app from there: `flatpak run --command=...`,
with HOME in the test's scratch world so ~/.var/app is the world's too.
"""

import os
import shutil
import signal
import subprocess
import sys
import unittest

import harness

APP_ID = "io.github.quipuchat.Quipu"
BUILD = os.environ.get("QUIPU_FLATPAK_BUILD", "")
SOURCE = os.environ.get("QUIPU_SOURCE_ROOT", "")


def skip_without_flatpak():
    """Exit 77 (meson's skip) where this machine cannot build Flatpaks."""
    missing = [tool for tool in ("flatpak", "flatpak-builder") if shutil.which(tool) is None]
    if missing:
        print("SKIP: %s not installed (.ci/install-deps)" % ", ".join(missing))
        sys.exit(77)


def installation():
    """The FLATPAK_USER_DIR the app is installed in."""
    path = os.path.join(BUILD, "flatpak", "installation")
    if not os.path.exists(path):
        raise AssertionError("%s is missing: the flatpak-build test did not build the app" % path)
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def env_for(world, **extra):
    """The world's environment, with the app's installation."""
    env = dict(world.env, FLATPAK_USER_DIR=installation(), **extra)
    return env


def run_argv(command, *args):
    # --die-with-parent: if the test is killed, nothing stays in the sandbox.
    return ["flatpak", "run", "--user", "--die-with-parent", "--command=" + command, APP_ID] + list(args)


def descendants(pid):
    """Host pids of every process below pid (the sandbox's included)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, encoding="utf-8", errors="replace") as f:
                # pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid, encoding="utf-8") as f:
            return f.read().strip()
    except OSError:
        return ""


def app_dir(world, *parts):
    """A path under the world's ~/.var/app/APP_ID, what the sandbox has as its home."""
    return os.path.join(world.env["HOME"], ".var", "app", APP_ID, *parts)


class SandboxServer(harness.Process):
    """quipu-server inside the sandbox, with its default data directory."""

    def __init__(self, world, *args, env=None):
        super().__init__(world, run_argv("quipu-server", "--listen", "127.0.0.1:0", *args),
                         env=env or env_for(world))
        line = self.wait_line(r"listening on ", timeout=60)
        self.address = line.rsplit(" ", 1)[1]
        self.fingerprint = self.wait_line(r"^certificate fingerprint ").split()[-1]

    def program(self):
        """The host pid of quipu-server itself, inside the sandbox."""
        pids = [p for p in descendants(self.proc.pid) if comm(p) == "quipu-server"]
        if len(pids) != 1:
            raise AssertionError("expected one quipu-server below flatpak run (%d), found %r"
                                 % (self.proc.pid, pids))
        return pids[0]

    def stop(self, timeout=10):
        """SIGTERM to the server (flatpak run does not forward signals); flatpak
        run then exits with the server's status."""
        os.kill(self.program(), signal.SIGTERM)
        return self.wait(timeout)


def run(argv, env, timeout=60):
    """Runs argv to completion: (exit code, stdout, stderr)."""
    proc = subprocess.run(argv, env=env, capture_output=True, timeout=timeout)
    return proc.returncode, proc.stdout.decode(), proc.stderr.decode()


def run_sandbox_cli(world, server, user, *args, env=None, timeout=60):
    """quipu-cli inside the sandbox to completion: (exit code, stdout, stderr)."""
    return run(run_argv("quipu-cli", "--server", server, "--user", user, *args),
               env or env_for(world), timeout)


def main():
    skip_without_flatpak()
    unittest.main(verbosity=2)
