#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs a test (the arguments after the bus configuration) against a
# keyring of its own: a private session bus on which gnome-keyring-daemon,
# unlocked and keeping its files in a temporary directory, provides the
# Secret Service. The user's own keyring is never touched. Without
# gnome-keyring-daemon the test is skipped.
set -u
SESSION_CONF=$1
shift

if ! command -v gnome-keyring-daemon >/dev/null 2>&1 || ! command -v dbus-run-session >/dev/null 2>&1; then
  echo "1..0 # SKIP gnome-keyring-daemon and dbus-run-session are needed (Debian: gnome-keyring, dbus)"
  exit 0
fi

if [ -z "${TD_KEYRING_INNER:-}" ]; then
  exec env TD_KEYRING_INNER=1 dbus-run-session --config-file="$SESSION_CONF" -- sh "$0" "$SESSION_CONF" "$@"
rc=$?
if [ $rc -ne 0 ]; then
  echo "gnome-keyring-daemon said:" >&2
  cat "$TMP/keyring.log" >&2
fi
exit $rc
fi

TMP=$(mktemp -d)
export XDG_DATA_HOME="$TMP/data" XDG_RUNTIME_DIR="$TMP/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"

# --unlock reads the new login keyring's password from standard input.
# The daemon warns about things that are no fault of ours ("asked to
# register item ..., but it's already registered"): the tests' fatal
# warnings are for the test, not for it.
printf 'tidings-test' | env -u G_DEBUG gnome-keyring-daemon --foreground --unlock --components=secrets \
  >"$TMP/keyring.log" 2>&1 &
keyring=$!
trap 'kill $keyring 2>/dev/null; wait $keyring 2>/dev/null; rm -rf "$TMP"' EXIT

i=0
until gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
        --method org.freedesktop.DBus.NameHasOwner org.freedesktop.secrets 2>/dev/null | grep -q true; do
  i=$((i + 1))
  if [ $i -gt 100 ]; then
    echo "Bail out! gnome-keyring-daemon did not take org.freedesktop.secrets within 10 s"
    cat "$TMP/keyring.log" >&2
    exit 1
  fi
  sleep 0.1
done

"$@"
rc=$?
if [ $rc -ne 0 ]; then
  echo "gnome-keyring-daemon said:" >&2
  cat "$TMP/keyring.log" >&2
fi
exit $rc
