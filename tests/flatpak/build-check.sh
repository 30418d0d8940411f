#!/bin/sh
# build-check.sh FLATPAK_BUILD BUILD_DIR: the flatpak-build test. Skips (77)
# where this machine cannot build Flatpaks; otherwise it is `make flatpak`:
# the stand-in runtime from the cache (or made), the app built from the
# working tree, installed, and bundled.
set -eu
for tool in flatpak flatpak-builder; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "SKIP: $tool is not installed (.ci/install-deps)"
    exit 77
  fi
done
exec "$@"
