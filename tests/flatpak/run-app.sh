#!/bin/sh
# run-app.sh BUILD_DIR [ARGS...]: the desktop app as `make flatpak` installed
# it (QUIPU_APP_COMMAND for the UI tests). --die-with-parent: a test that
# kills this process takes the sandboxed app down with it.
set -eu
build=$1
shift
FLATPAK_USER_DIR=$(cat "$build/flatpak/installation")
export FLATPAK_USER_DIR
exec flatpak run --user --die-with-parent io.github.quipuchat.Quipu "$@"
