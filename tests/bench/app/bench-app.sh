#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Benchmarks of the whole app under Xvfb on a private bus.
#   idle-wakeups  wakeups per second of an idle Tidings, all its threads
#                 counted, as a returning user whose chat is connected to
#                 the embedded server (target 0)
#   gui-stall     longest main-loop stall (and p99 frame interval) while
#                 1,000 feeds are refreshed from nginx (all new), 5,000
#                 pub/sub messages/s arrive and the views switch every
#                 second (target 16 ms); see app-driver.c
#   cold-start    exec to first frame with 100,000 items and 100,000 chat
#                 lines in the database (target 300 ms); see app-driver.c
#   chat-lines    longest main-loop stall (and p99 frame interval, RSS) in
#                 the Chat view on a channel with 100,000 lines in its log,
#                 scrolled to the top and back while lines come and go
#                 (target 16 ms; needs xdotool); see app-driver.c
# Prints `NAME: tidings X UNIT, peer Y UNIT, ratio R`.
set -u
BUILD=$(cd "$(dirname "$0")/../../.." && pwd)
TIDINGS=$BUILD/src/app/tidings
DRIVER=$BUILD/tests/bench/app/app-driver
IDLE_SECONDS=${TD_BENCH_IDLE_SECONDS:-30}

if [ "${1:-}" = "--list" ]; then
  echo idle-wakeups
  echo gui-stall
  echo cold-start
  echo chat-lines
  exit 0
fi

if [ -z "${TD_BENCH_INNER:-}" ]; then
  exec env TD_BENCH_INNER=1 xvfb-run -a -s '-screen 0 1280x900x24' \
    dbus-run-session --config-file="$BUILD/../tests/session-test.conf" -- "$0" "$@"
fi

TMP=$(mktemp -d)
pid=
trap 'kill $pid 2>/dev/null; rm -rf "$TMP"' EXIT
export GSETTINGS_SCHEMA_DIR=$BUILD/data GSETTINGS_BACKEND=memory NO_AT_BRIDGE=1 GTK_A11Y=none
export XDG_DATA_HOME=$TMP/data XDG_CONFIG_HOME=$TMP/config TIDINGS_DB=$TMP/t.db
export XDG_CACHE_HOME=$TMP/cache

D="--session --dest io.github.tidings.Tidings --object-path /io/github/tidings/Tidings"

# Every thread of process $1, one line each: "TID NAME SWITCHES", where
# SWITCHES counts the times it slept and was woken (voluntary context
# switches). Reading them does not wake the process.
thread_switches () {
  for task in /proc/"$1"/task/*; do
    [ -r "$task/status" ] || continue
    printf "%s %s %s\n" "${task##*/}" "$(tr ' ' '_' < "$task/comm")" \
      "$(sed -n 's/^voluntary_ctxt_switches:[[:space:]]*//p' "$task/status")"
  done
}

status=0
for name in ${*:-idle-wakeups gui-stall cold-start chat-lines}; do
  case $name in
    gui-stall|cold-start|chat-lines)
      echo "$name: load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores" >&2
      "$DRIVER" "$name" "$TIDINGS" || status=1
      ;;
    idle-wakeups)
      # A returning user: the chat connects to the embedded server, and
      # keep-alive timers run on both ends.
      mkdir -p "$TMP/config/glib-2.0/settings"
      printf "[io/github/tidings/Tidings]\nchat-nick='idle'\n" > "$TMP/config/glib-2.0/settings/keyfile"
      GSETTINGS_BACKEND=keyfile "$TIDINGS" >/dev/null 2>&1 &
      pid=$!
      i=0
      until gdbus call $D --method org.freedesktop.DBus.Peer.Ping >/dev/null 2>&1; do
        sleep 0.1; i=$((i + 1)); [ $i -gt 100 ] && { echo "idle-wakeups: the app did not start"; exit 1; }
      done
      # Start-up work settles first: the feed manager looks for due feeds
      # 10 s after start (TD_FEEDS_APP_STARTUP_DELAY_MS).
      sleep 15
      thread_switches $pid > "$TMP/before"
      sleep "$IDLE_SECONDS"
      thread_switches $pid > "$TMP/after"
      # Threads that ended or began in between count from zero.
      awk -v seconds="$IDLE_SECONDS" '
        NR == FNR { before[$1] = $3; next }
        { woke = $3 - ($1 in before ? before[$1] : 0); total += woke;
          if (woke > 0) printf "idle-wakeups: thread %s (%s) woke %d times\n", $1, $2, woke > "/dev/stderr" }
        END { rate = total / seconds;
              printf "idle-wakeups: tidings %.2f wakeups/s, peer 0 wakeups/s, ratio %s\n", rate, rate == 0 ? "0" : "inf" }' \
        "$TMP/before" "$TMP/after"
      gdbus call $D --method org.gtk.Actions.Activate quit '[]' '{}' >/dev/null 2>&1
      wait $pid 2>/dev/null
      ;;
  esac
done
exit $status
