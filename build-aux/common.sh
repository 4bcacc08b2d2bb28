# SPDX-License-Identifier: GPL-3.0-or-later
# Shared by build-aux/run, build-aux/test and build-aux/bench.

TD_ROOT=$(cd "$(dirname "$0")/.." && pwd)

# What building and running Tidings needs on Debian 12.
TD_BUILD_PACKAGES="gcc pkg-config meson ninja-build gettext libglib2.0-dev libgtk-4-dev
  libadwaita-1-dev libsqlite3-dev libsoup-3.0-dev libxml2-dev libjson-glib-dev
  libsodium-dev libsecret-1-dev glib-networking desktop-file-utils appstream
  libwebkitgtk-6.0-dev"

# What the test suites need on top: a display, a private bus, and the real
# servers and clients Tidings is checked against.
TD_TEST_PACKAGES="xvfb xauth dbus dbus-x11 redis-server redis-tools flatpak-builder
  python3 ngircd inspircd gnome-keyring"

td_sudo () {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Installs the named Debian packages that are missing; does nothing (and
# needs no network) when all are there. Services that packages would start
# (redis-server, ngircd, inspircd) are kept from starting: tests start their own.
td_install () {
  missing=""
  for pkg in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)
    case "$status" in
      *" installed") ;;
      *) missing="$missing $pkg" ;;
    esac
  done
  [ -z "$missing" ] && return 0
  echo "Installing:$missing"
  policy_added=no
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | td_sudo tee /usr/sbin/policy-rc.d >/dev/null
    td_sudo chmod +x /usr/sbin/policy-rc.d
    policy_added=yes
  fi
  td_sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q || true
  td_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
  rc=$?
  [ $policy_added = yes ] && td_sudo rm -f /usr/sbin/policy-rc.d
  return $rc
}

# Configures (once) and builds the build directory $1 with the meson
# options that follow.
td_build () {
  dir=$1; shift
  if [ ! -f "$TD_ROOT/$dir/build.ninja" ]; then
    meson setup "$TD_ROOT/$dir" "$TD_ROOT" "$@" || return 1
  else
    meson configure "$TD_ROOT/$dir" "$@" >/dev/null || return 1
  fi
  ninja -C "$TD_ROOT/$dir"
}

# Prints `N passed, N failed, N skipped` for the last `meson test` in $1.
# The tests of a testlog.json that failed only because a sanitizer itself
# crashed, as names `meson test` takes; nothing if any other test failed.
td_sanitizer_crashes () {
  python3 - "$1" <<'PY'
import json, sys
crashed, other = [], False
for line in open(sys.argv[1]):
    if not line.strip():
        continue
    test = json.loads(line)
    if test["result"] in ("OK", "SKIP"):
        continue
    output = (test.get("stdout") or "") + (test.get("stderr") or "")
    if "LeakSanitizer has encountered a fatal error" in output and "ERROR: LeakSanitizer: detected" not in output:
        crashed.append(test["name"].split(" / ")[-1])
    else:
        other = True
if crashed and not other:
    print(" ".join(crashed))
PY
}

# Writes into @2, the testlog.json of a second run, the results of the
# first run @1 with the second run's in place of the tests run again.
# Exits non-zero if any test then failed.
td_merge_results () {
  python3 - "$1" "$2" <<'PY'
import json, sys
first = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
second = {t["name"]: t for t in (json.loads(l) for l in open(sys.argv[2]) if l.strip())}
merged = [second.get(t["name"], t) for t in first]
with open(sys.argv[2], "w") as out:
    for t in merged:
        out.write(json.dumps(t) + "\n")
sys.exit(0 if all(t["result"] in ("OK", "SKIP") for t in merged) else 1)
PY
}

# The tests that failed in the last `meson test` in $1, each with the end
# of its output, so that a failure shows at the end of a long log.
td_failures () {
  python3 - "$1/meson-logs/testlog.json" <<'PY'
import json, sys
try:
    tests = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
except OSError:
    tests = []
for test in tests:
    if test["result"] in ("OK", "SKIP"):
        continue
    output = ((test.get("stdout") or "") + (test.get("stderr") or "")).splitlines()
    print("--- %s: %s (%.1f s)" % (test["name"], test["result"], test.get("duration", 0)))
    for line in output[-40:]:
        print("    " + line)
PY
}

td_count () {
  python3 - "$1/meson-logs/testlog.json" <<'PY'
import json, sys
try:
    results = [json.loads(line)["result"] for line in open(sys.argv[1]) if line.strip()]
except OSError:
    results = []
ok = results.count("OK")
skip = results.count("SKIP")
print("%d passed, %d failed, %d skipped" % (ok, len(results) - ok - skip, skip))
PY
}
