#!/bin/sh
# keyring-wrapper.sh CMD [ARGS...]
#
# Runs CMD against a throwaway Secret Service: a fresh HOME and XDG
# directories, a private session bus (dbus-run-session) and on it an unlocked
# GNOME Keyring. Needs no TTY and no existing bus; exits with CMD's status and
# leaves no daemon behind. Tests check QUIPU_PRIVATE_KEYRING before writing
# to a keyring, so that they never touch a developer's real one.

set -eu

if [ "${1-}" = "--in-session" ]; then
  state_dir=$2
  shift 2

  # The password only guards this throwaway keyring; --unlock creates the
  # login keyring, which becomes the default collection.
  printf '%s' quipu-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  # --start returns once the daemon serves org.freedesktop.secrets; it prints
  # variables only when the control socket is somewhere unusual, and chatter
  # on stderr that matters only if it fails.
  if ! gnome-keyring-daemon --start --components=secrets \
         >"$state_dir/keyring.env" 2>"$state_dir/keyring.log"; then
    cat "$state_dir/keyring.log" >&2
    exit 1
  fi
  while IFS= read -r line; do
    case $line in
      *=*) export "$line" ;;
    esac
  done <"$state_dir/keyring.env"

  dbus-send --session --print-reply=literal --dest=org.freedesktop.DBus / \
    org.freedesktop.DBus.GetConnectionUnixProcessID string:org.freedesktop.secrets |
    awk '{ print $2 }' >"$state_dir/keyring.pid"

  export QUIPU_PRIVATE_KEYRING=1
  exec "$@"
fi

if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi

state_dir=$(mktemp -d "${TMPDIR:-/tmp}/quipu-keyring.XXXXXX")

cleanup () {
  # The daemon usually quits with its bus; make sure of it.
  if [ -s "$state_dir/keyring.pid" ]; then
    pid=$(cat "$state_dir/keyring.pid")
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = gnome-keyring-d ]; then
      kill "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "$state_dir"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -m 0700 "$state_dir/home" "$state_dir/runtime"
export HOME="$state_dir/home"
export XDG_CONFIG_HOME="$HOME/.config"
export XDG_DATA_HOME="$HOME/.local/share"
export XDG_CACHE_HOME="$HOME/.cache"
export XDG_STATE_HOME="$HOME/.local/state"
export XDG_RUNTIME_DIR="$state_dir/runtime"
unset DBUS_SESSION_BUS_ADDRESS

status=0
dbus-run-session -- sh "$0" --in-session "$state_dir" "$@" || status=$?
exit "$status"
