#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# tidingsd as scripts use it: options, port 0, a clean exit on SIGTERM.
set -u
TIDINGSD=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
n=0
ok () { n=$((n + 1)); echo "ok $n - $1"; }
fail () { n=$((n + 1)); echo "not ok $n - $1"; }
check () { if eval "$2"; then ok "$1"; else fail "$1"; fi; }

echo "1..9"

out=$("$TIDINGSD" --version)
check "--version prints the version" 'echo "$out" | grep -Eq "^tidingsd [0-9]+\.[0-9]+\.[0-9]+$"'

out=$("$TIDINGSD" --help)
check "--help documents the options" 'echo "$out" | grep -q -- "--pubsub-port" && echo "$out" | grep -q -- "--db"'

"$TIDINGSD" --pubsub-port 70000 >/dev/null 2>"$TMP/err"; rc=$?
check "an out-of-range port is refused with a message" '[ $rc -eq 2 ] && grep -q "pubsub-port" "$TMP/err"'

"$TIDINGSD" --listen not-an-address >/dev/null 2>"$TMP/err"; rc=$?
check "a bad listen address is refused with a message" '[ $rc -eq 2 ] && grep -q "not an IP address" "$TMP/err"'

"$TIDINGSD" --no-such-option >/dev/null 2>&1; rc=$?
check "an unknown option is refused" '[ $rc -eq 2 ]'

"$TIDINGSD" --db "$TMP/d.db" --pubsub-port 0 --line-port 0 --chat-port 0 --files-port -1 >"$TMP/out" 2>"$TMP/log" &
pid=$!
i=0
while [ $i -lt 100 ] && ! grep -q '^ready$' "$TMP/out"; do sleep 0.05; i=$((i + 1)); done
check "starts on port 0 and says ready" 'grep -q "^ready$" "$TMP/out"'

ports_ok=yes
while read -r word name addr; do
  [ "$word" = listening ] || continue
  port=${addr##*:}
  [ "$port" -gt 0 ] 2>/dev/null || ports_ok=no
done < "$TMP/out"
check "every listener reports the port it bound" '[ $ports_ok = yes ]'

start=$(date +%s%N)
kill -TERM $pid
wait $pid; rc=$?
end=$(date +%s%N)
check "exits 0 on SIGTERM" '[ $rc -eq 0 ]'
check "shuts down within 2 s" '[ $(( (end - start) / 1000000 )) -lt 2000 ]'
