#!/usr/bin/env python3
"""check-install.py BUILD BINDIR CONFDIR MANDIR UNITDIR: `meson install` into a
scratch DESTDIR lays out what an admin needs where a distribution expects it,
and systemd accepts the unit as installed (its binary path must exist there,
hence the DESTDIR tree as --root)."""

import os
import shutil
import subprocess
import sys
import tempfile

build, bindir, confdir, mandir, unitdir = sys.argv[1:6]
failures = []


def check(condition, text):
    if not condition:
        failures.append(text)


def quiet(argv, env=None):
    proc = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    check(proc.returncode == 0 and not proc.stderr,
          "%s: exit status %d\n%s%s" % (" ".join(argv), proc.returncode, proc.stdout, proc.stderr))


root = tempfile.mkdtemp(prefix="quipu-install-")
try:
    proc = subprocess.run(["meson", "install", "-C", build, "--destdir", root, "--no-rebuild", "--quiet"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        sys.exit("meson install failed:\n" + proc.stdout)

    def installed(path):
        return os.path.join(root, path.lstrip("/"))

    for program in ("quipu-server", "quipu-cli", "quipu-bench"):
        check(os.access(installed(os.path.join(bindir, program)), os.X_OK), "%s/%s not installed" % (bindir, program))
    check(os.path.isfile(installed(os.path.join(confdir, "server.conf"))), "%s/server.conf not installed" % confdir)
    for page in ("man1/quipu-server.1", "man1/quipu-cli.1", "man5/quipu-server.conf.5", "man1/quipu-bench.1"):
        check(os.path.isfile(installed(os.path.join(mandir, page))), "%s/%s not installed" % (mandir, page))

    unit = installed(os.path.join(unitdir, "quipu-server.service"))
    check(os.path.isfile(unit), "%s/quipu-server.service not installed" % unitdir)
    if os.path.isfile(unit):
        with open(unit) as f:
            text = f.read()
        check("ExecStart=%s/quipu-server " % bindir in text, "the unit does not run %s/quipu-server" % bindir)
        check("--config %s/server.conf" % confdir in text, "the unit does not read %s/server.conf" % confdir)
        analyze = shutil.which("systemd-analyze")
        if analyze is None:
            failures.append("systemd-analyze is missing (package systemd)")
        else:
            # The rest of the system is the host's: its units (the targets
            # the unit orders against) and the kill(1) ExecReload runs.
            # MANPATH: Documentation=man:quipu-server(1) must resolve to
            # the page as installed.
            shutil.copytree("/lib/systemd/system", os.path.join(root, "lib", "systemd", "system"),
                            symlinks=True, dirs_exist_ok=True)
            os.makedirs(os.path.join(root, "bin"), exist_ok=True)
            shutil.copy2("/bin/kill", os.path.join(root, "bin", "kill"))
            quiet([analyze, "verify", "--root=" + root, unit],
                  env=dict(os.environ, MANPATH=installed(mandir)))

    # The installed server checks the installed example config as the unit
    # would run it.
    proc = subprocess.run([installed(os.path.join(bindir, "quipu-server")), "--check-config",
                           "--config", installed(os.path.join(confdir, "server.conf")),
                           "--data-dir", os.path.join(root, "state")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(proc.returncode == 0 and not proc.stderr, "installed server rejects the example config: %s" % proc.stderr)
finally:
    shutil.rmtree(root, ignore_errors=True)

if failures:
    sys.exit("\n".join(failures))
print("installed and verified: %s, %s, %s, %s" % (bindir, confdir, mandir, unitdir))
