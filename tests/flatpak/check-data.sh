#!/bin/sh
# check-data.sh BUILD_DIR: the desktop file, AppStream metadata and settings
# schema the Flatpak installed, validated with the GNOME Sdk's own tools
# (AppStream 1.0; Debian 12's are older), as Flathub's checks would.
set -eu
build=$1
app=io.github.quipuchat.Quipu
FLATPAK_USER_DIR=$(cat "$build/flatpak/installation")
export FLATPAK_USER_DIR
files=$(flatpak info --user --show-location "$app")/files
sdk=$(flatpak info --user --show-sdk "$app")
metainfo=$(ls "$files"/share/metainfo/"$app".metainfo.xml "$files"/share/appdata/"$app".appdata.xml 2>/dev/null | head -n 1)
[ -n "$metainfo" ] || { echo "check-data: $app installed no metainfo" >&2; exit 1; }

in_sdk() {
  cmd=$1
  shift
  echo "check-data: $cmd $*"
  flatpak run --user --filesystem="$files":ro --command="$cmd" "$sdk" "$@"
}
in_sdk desktop-file-validate "$files/share/applications/$app.desktop"
in_sdk appstreamcli validate --no-net --explain "$metainfo"
in_sdk glib-compile-schemas --strict --dry-run "$files/share/glib-2.0/schemas"
