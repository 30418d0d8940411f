#!/usr/bin/env python3
"""check-quiet.py COMMAND [ARG...]: runs COMMAND and fails unless it exits 0
with nothing on stderr. For checkers that warn without failing, such as
`man --warnings` and `systemd-analyze verify`."""

import subprocess
import sys

proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
if proc.returncode != 0 or proc.stderr:
    sys.stderr.write(proc.stderr)
    sys.exit("%s: exit status %d, %d lines on stderr" % (" ".join(sys.argv[1:]), proc.returncode,
                                                         len(proc.stderr.splitlines())))
