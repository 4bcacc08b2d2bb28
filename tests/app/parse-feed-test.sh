#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# `tidings --parse-feed` works without a display or a bus.
set -u
TIDINGS=$1
FUZZ=$2
unset DISPLAY WAYLAND_DISPLAY
n=0
ok () { n=$((n + 1)); echo "ok $n - $1"; }
fail () { n=$((n + 1)); echo "not ok $n - $1"; }
check () { if eval "$2"; then ok "$1"; else fail "$1"; fi; }
echo "1..7"

out=$("$TIDINGS" --parse-feed "$FUZZ/feed/rss20.xml" 2>&1); rc=$?
check "an RSS file parses with exit 0 and no display" '[ $rc -eq 0 ] && echo "$out" | grep -q "\"version\" : \"rss20\""'
check "entries carry the parsed values" 'echo "$out" | grep -q "\"title\" : \"One\""'

out=$("$TIDINGS" --parse-feed "file://$FUZZ/feed/malformed.xml" 2>&1); rc=$?
check "a malformed document is recovered with a warning" '[ $rc -eq 0 ] && echo "$out" | grep -q "not well-formed"'

out=$("$TIDINGS" --parse-feed "$FUZZ/no-such-file.xml" 2>&1); rc=$?
check "a missing file is an error with a message" '[ $rc -ne 0 ] && echo "$out" | grep -q "no-such-file"'

printf 'just text, no feed' > "${TMPDIR:-/tmp}/td-not-a-feed.$$"
out=$("$TIDINGS" --parse-feed "${TMPDIR:-/tmp}/td-not-a-feed.$$" 2>&1); rc=$?
rm -f "${TMPDIR:-/tmp}/td-not-a-feed.$$"
check "something that is no feed exits non-zero" '[ $rc -ne 0 ]'

out=$("$TIDINGS" --refresh --unread 2>&1); rc=$?
check "two commands at once are refused before anything runs" '[ $rc -eq 2 ] && echo "$out" | grep -q "one command"'

out=$("$TIDINGS" stray words 2>&1); rc=$?
check "stray arguments are refused" '[ $rc -eq 2 ] && echo "$out" | grep -qi "unexpected arguments"'
