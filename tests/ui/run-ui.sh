#!/bin/sh
# run-ui.sh CMD [ARGS...]
#
# CMD under a private X server (xvfb-run) and tests/keyring-wrapper.sh. The
# display number starts at a random point: other test runs on the machine
# use xvfb-run too, and two picking :99 at once lose the display.
set -eu
here=$(dirname "$0")
start=$(( 100 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % 800 ))
exec xvfb-run -a -n "$start" -s "-screen 0 1280x800x24 -nolisten tcp" \
  "$here/../keyring-wrapper.sh" "$@"
