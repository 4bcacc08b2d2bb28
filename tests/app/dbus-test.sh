#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# The running app on a private session bus: its actions are reachable with
# gdbus, and a second `tidings` forwards its command line to the first.
# Settings go to a keyfile so the state the app saves can be checked.
set -u
TIDINGS=$1
APP_ID=io.github.tidings.Tidings
OBJ=/io/github/tidings/Tidings
TMP=$(mktemp -d)
export XDG_CONFIG_HOME=$TMP/config XDG_DATA_HOME=$TMP/data GSETTINGS_BACKEND=keyfile
KEYFILE=$XDG_CONFIG_HOME/glib-2.0/settings/keyfile
mkdir -p "$(dirname "$KEYFILE")"
cat > "$KEYFILE" <<KF
[io/github/tidings/Tidings]
local-pubsub-port=0
local-line-port=0
local-chat-port=0
local-files-port=0
chat-nick='tester'
KF
n=0
ok () { n=$((n + 1)); echo "ok $n - $1"; }
fail () { n=$((n + 1)); echo "not ok $n - $1"; }
check () { if eval "$2"; then ok "$1"; else fail "$1"; fi; }
call () { gdbus call --session --dest $APP_ID --object-path $OBJ "$@"; }
on_bus () { gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
              --method org.freedesktop.DBus.NameHasOwner $APP_ID 2>/dev/null | grep -q true; }

echo "1..51"

TIDINGS_DEBUG=latency "$TIDINGS" > "$TMP/app.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$TMP"' EXIT
i=0
while [ $i -lt 200 ] && ! on_bus; do sleep 0.05; i=$((i + 1)); done
check "the app takes its name on the bus" 'on_bus'
gdbus monitor --session --dest $APP_ID --object-path $OBJ > "$TMP/monitor0.log" 2>&1 &
monitor0=$!

out=$(call --method org.gtk.Actions.List)
check "app actions are listed" 'echo "$out" | grep -q "show-view" && echo "$out" | grep -q "quit" && echo "$out" | grep -q "preferences"'

call --method org.gtk.Actions.Activate show-view '[<"feeds">]' '{}' >/dev/null
check "show-view is activated over D-Bus" '[ $? -eq 0 ]'

out=$(call --method org.freedesktop.DBus.Properties.Get io.github.tidings.Tidings1 Version)
check "the Tidings1 interface reports its version" 'echo "$out" | grep -Eq "[0-9]+\.[0-9]+\.[0-9]+"'

out=$(call --method io.github.tidings.Tidings1.GetLatencyStats)
check "the latency probe reports main-loop stalls" 'echo "$out" | grep -q "stall-max-ms" && echo "$out" | grep -q "wakeups"'

out=$(call --method io.github.tidings.Tidings1.ShowView nowhere 2>&1)
check "ShowView refuses an unknown view with a named error" 'echo "$out" | grep -q "io.github.tidings.Tidings1.Error.InvalidArgs"'

call --method io.github.tidings.Tidings1.ShowView chat >/dev/null
check "ShowView switches views" '[ $? -eq 0 ]'

feed_file () {  # N items
  { echo '<?xml version="1.0"?><rss version="2.0"><channel><title>Local</title><link>https://example.org/</link>'
    i=1; while [ $i -le $1 ]; do echo "<item><title>Item $i</title><guid>g$i</guid></item>"; i=$((i + 1)); done
    echo '</channel></rss>'; } > "$TMP/feed.xml"
}
feed_file 2
out=$(call --method io.github.tidings.Tidings1.AddFeed "file://$TMP/feed.xml")
feed_id=$(echo "$out" | sed -n 's/^(int64 \([0-9]*\),)$/\1/p')
check "AddFeed subscribes to a local feed and returns its id" '[ -n "$feed_id" ] && [ "$feed_id" -gt 0 ]'

out=$(call --method io.github.tidings.Tidings1.AddFeed "ftp://example.org/feed" 2>&1)
check "AddFeed refuses another scheme with InvalidUrl" 'echo "$out" | grep -q "Error.InvalidUrl"'

out=$(call --method io.github.tidings.Tidings1.AddFeed "" 2>&1)
check "AddFeed refuses an empty URL" 'echo "$out" | grep -q "Error.InvalidUrl"'

out=$(call --method io.github.tidings.Tidings1.AddFeed "file://$TMP/feed.xml" 2>&1)
check "AddFeed of the same feed says it exists" 'echo "$out" | grep -q "Error.Exists"'

i=0
while [ $i -lt 100 ]; do
  out=$(call --method io.github.tidings.Tidings1.GetUnreadCounts)
  echo "$out" | grep -q "'feeds': <uint32 2>\|'feeds': 2" && break
  sleep 0.05; i=$((i + 1))
done
check "GetUnreadCounts counts the feed's items" 'echo "$out" | grep -q "feeds.*2"'

out=$(call --method io.github.tidings.Tidings1.ListFeeds)
check "ListFeeds lists the feed with its title and unread count" 'echo "$out" | grep -q "(int64 $feed_id, .*, .Local., uint32 2, uint32 0)"'

out=$(call --method io.github.tidings.Tidings1.RefreshFeeds "[int64 987654]" 2>&1)
check "RefreshFeeds refuses an unknown id with NoSuchFeed" 'echo "$out" | grep -q "Error.NoSuchFeed"'

out=$(call --method io.github.tidings.Tidings1.MarkRead 987654 2>&1)
check "MarkRead refuses an unknown item with NoSuchItem" 'echo "$out" | grep -q "Error.NoSuchItem"'

gdbus monitor --session --dest $APP_ID --object-path $OBJ > "$TMP/monitor.log" 2>&1 &
monitor=$!
sleep 0.3
feed_file 3
call --method io.github.tidings.Tidings1.RefreshFeeds "[int64 $feed_id]" >/dev/null
check "RefreshFeeds accepts a known id" '[ $? -eq 0 ]'
i=0
while [ $i -lt 100 ] && ! grep -q "NewItems" "$TMP/monitor.log"; do sleep 0.05; i=$((i + 1)); done
kill $monitor 2>/dev/null
check "a refresh with a new item emits NewItems" 'grep -q "NewItems (int64 $feed_id, uint32 1)" "$TMP/monitor.log"'

# A round over more feeds than the signals sent at once: one NewItems for
# each, none lost.
many_file () {  # K N: feed K with N items
  { echo "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Many $1</title><link>https://example.org/$1</link>"
    i=1; while [ $i -le $2 ]; do echo "<item><title>Item $i</title><guid>m$1-$i</guid></item>"; i=$((i + 1)); done
    echo '</channel></rss>'; } > "$TMP/many-$1.xml"
}
many_ids=""
k=1
while [ $k -le 60 ]; do
  many_file $k 1
  id=$(call --method io.github.tidings.Tidings1.AddFeed "file://$TMP/many-$k.xml" | sed -n 's/^(int64 \([0-9]*\),)$/\1/p')
  many_ids="$many_ids $id"
  k=$((k + 1))
done
# Their first items counted (3 of the first feed, one each), the next
# refresh finds one new item in each.
i=0
while [ $i -lt 200 ] && ! call --method io.github.tidings.Tidings1.GetUnreadCounts | grep -q "'feeds': <uint32 63>\|'feeds': 63"; do
  sleep 0.05; i=$((i + 1))
done
k=1
while [ $k -le 60 ]; do many_file $k 2; k=$((k + 1)); done
gdbus monitor --session --dest $APP_ID --object-path $OBJ > "$TMP/monitor-many.log" 2>&1 &
monitor=$!
sleep 0.3
call --method io.github.tidings.Tidings1.RefreshFeeds "@ax []" >/dev/null
i=0
while [ $i -lt 200 ] && [ "$(grep -c "NewItems" "$TMP/monitor-many.log")" -lt 60 ]; do sleep 0.05; i=$((i + 1)); done
sleep 0.3
kill $monitor 2>/dev/null
missing=0
for id in $many_ids; do
  [ "$(grep -c "NewItems (int64 $id, uint32 1)" "$TMP/monitor-many.log")" -eq 1 ] || missing=$((missing + 1))
done
check "a round over 60 feeds emits one NewItems for each" '[ -n "$many_ids" ] && [ $missing -eq 0 ] && [ "$(grep -c NewItems "$TMP/monitor-many.log")" -eq 60 ]'
for id in $many_ids; do call --method io.github.tidings.Tidings1.RemoveFeed "$id" >/dev/null; done

out=$("$TIDINGS" --list-feeds --json)
check "--list-feeds --json prints the feed" 'echo "$out" | grep -q "\"id\" : $feed_id" && echo "$out" | grep -q "\"unread\" : 3"'

out=$("$TIDINGS" --unread)
check "--unread prints the unread counts" 'echo "$out" | grep -q "^feeds	3$"'

out=$("$TIDINGS" --add-feed "gopher://x" 2>&1); rc=$?
check "--add-feed with a bad URL fails with the reason" '[ $rc -ne 0 ] && echo "$out" | grep -qi "not a feed url"'

call --method io.github.tidings.Tidings1.RemoveFeed "$feed_id" >/dev/null
check "RemoveFeed removes the feed" '[ $? -eq 0 ] && ! call --method io.github.tidings.Tidings1.ListFeeds | grep -q "$feed_id,"'

out=$(call --method io.github.tidings.Tidings1.RemoveFeed "$feed_id" 2>&1)
check "RemoveFeed of a removed feed says NoSuchFeed" 'echo "$out" | grep -q "Error.NoSuchFeed"'

out=$(call --method io.github.tidings.Tidings1.Publish "" nobody-listens hello)
check "Publish to the local broker answers the receiver count" '[ "$out" = "(0,)" ]'

out=$(call --method io.github.tidings.Tidings1.Publish "" "" hello 2>&1)
check "Publish refuses an empty channel" 'echo "$out" | grep -q "Error.InvalidArgs"'

out=$(call --method io.github.tidings.Tidings1.Publish "no port here" news hello 2>&1)
check "Publish refuses a connection that is no HOST:PORT" 'echo "$out" | grep -q "Error.NoSuchConnection"'

out=$(call --method io.github.tidings.Tidings1.Unsubscribe "" never-subscribed 2>&1)
check "Unsubscribe from something never subscribed is refused" 'echo "$out" | grep -q "Error.InvalidArgs"'

gdbus monitor --session --dest $APP_ID --object-path $OBJ > "$TMP/monitor2.log" 2>&1 &
monitor=$!
sleep 0.3
call --method io.github.tidings.Tidings1.Subscribe "" news >/dev/null && \
  call --method io.github.tidings.Tidings1.Subscribe "" "n*" >/dev/null
check "Subscribe takes a channel and a pattern" '[ $? -eq 0 ]'
i=0
out=""
while [ $i -lt 100 ]; do
  out=$(call --method io.github.tidings.Tidings1.Publish "" news "hello subscribers")
  [ "$out" = "(2,)" ] && break
  sleep 0.05; i=$((i + 1))
done
check "a publish reaches the channel and the pattern subscription" '[ "$out" = "(2,)" ]'

port=$(call --method org.freedesktop.DBus.Properties.Get io.github.tidings.Tidings1 LocalServerPorts |
       sed -n "s/.*'pubsub': \(uint16 \)\{0,1\}\([0-9]*\).*/\2/p")
check "LocalServerPorts names the pub/sub port" '[ -n "$port" ] && [ "$port" -gt 0 ]'
if command -v redis-cli >/dev/null 2>&1; then
  redis-cli -h 127.0.0.1 -p "$port" publish news "from redis-cli" >/dev/null 2>&1
fi
i=0
while [ $i -lt 100 ] && ! grep -q "n\*., .from redis-cli" "$TMP/monitor2.log"; do sleep 0.05; i=$((i + 1)); done
kill $monitor 2>/dev/null
check "MessageReceived carries pub/sub messages" 'grep -q "MessageReceived (.pubsub., .news., .news., .hello subscribers.)" "$TMP/monitor2.log"'
if command -v redis-cli >/dev/null 2>&1; then
  check "redis-cli publishes through the local broker" 'grep -q "MessageReceived (.pubsub., .news., .n\*., .from redis-cli.)" "$TMP/monitor2.log"'
else
  n=$((n + 1)); echo "ok $n # SKIP redis-cli is not installed"
fi

i=1
while [ $i -le 15 ]; do
  call --method io.github.tidings.Tidings1.Subscribe "127.0.0.1:$i" x >/dev/null 2>&1
  i=$((i + 1))
done
out=$(call --method io.github.tidings.Tidings1.Subscribe "127.0.0.1:16" x 2>&1)
check "the number of pub/sub connections D-Bus may open is bounded" 'echo "$out" | grep -q "Error.NoSuchConnection" && echo "$out" | grep -q "At most 16"'

out=$("$TIDINGS" --publish news hello from the command line)
check "--publish prints the receiver count" 'echo "$out" | grep -q "Published to 2 receivers"'

out=$("$TIDINGS" --publish news 2>&1); rc=$?
check "--publish without a message is refused" '[ $rc -eq 2 ]'

out=$(call --method io.github.tidings.Tidings1.JoinChannel Tidings "#dbus-test" 2>&1)
check "JoinChannel joins a channel on the local network" '[ "$out" = "()" ]'

out=$(call --method io.github.tidings.Tidings1.JoinChannel Nowhere "#x" 2>&1)
check "JoinChannel on an unknown network says NoSuchConnection" 'echo "$out" | grep -q "Error.NoSuchConnection"'

out=$(call --method io.github.tidings.Tidings1.SendMessage Tidings "not a target" hi 2>&1)
check "SendMessage refuses a target that is no channel or nick" 'echo "$out" | grep -q "Error.InvalidArgs"'

chat_port=$(call --method org.freedesktop.DBus.Properties.Get io.github.tidings.Tidings1 LocalServerPorts |
            sed -n "s/.*'chat': \(uint16 \)\{0,1\}\([0-9]*\).*/\2/p")
gdbus monitor --session --dest $APP_ID --object-path $OBJ > "$TMP/monitor3.log" 2>&1 &
monitor=$!
sleep 0.3
# A second IRC client joins, waits for the app's message, then answers.
python3 - "$chat_port" > "$TMP/irc.log" 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=15)
f = s.makefile("rb")
s.sendall(b"NICK visitor\r\nUSER v 0 * :Visitor\r\nJOIN #dbus-test\r\n")
deadline = time.time() + 15
while time.time() < deadline:
    line = f.readline().decode("utf-8", "replace").rstrip("\r\n")
    if not line:
        break
    print(line, flush=True)
    if line.startswith("PING"):
        s.sendall(("PONG " + line[5:] + "\r\n").encode())
    if "PRIVMSG #dbus-test :hello from dbus" in line:
        s.sendall(b"PRIVMSG #dbus-test :hello back\r\nQUIT\r\n")
        break
PY
visitor=$!
i=0
while [ $i -lt 100 ] && ! grep -q "366 visitor" "$TMP/irc.log"; do sleep 0.05; i=$((i + 1)); done
out=$(call --method io.github.tidings.Tidings1.SendMessage Tidings "#dbus-test" "hello from dbus" 2>&1)
check "SendMessage sends to a joined channel" '[ "$out" = "()" ]'
i=0
while [ $i -lt 100 ] && ! grep -q "hello back" "$TMP/monitor3.log"; do sleep 0.05; i=$((i + 1)); done
kill $monitor 2>/dev/null; wait $visitor 2>/dev/null
check "another client received the message" 'grep -q "PRIVMSG #dbus-test :hello from dbus" "$TMP/irc.log"'
check "MessageReceived carries chat messages" 'grep -q "MessageReceived (.chat., .visitor., .#dbus-test., .hello back.)" "$TMP/monitor3.log"'

out=$("$TIDINGS" --send Tidings "#dbus-test" from the command line 2>&1); rc=$?
check "--send sends a chat message" '[ $rc -eq 0 ]'

kill $monitor0 2>/dev/null
check "ConnectionStateChanged reports the chat network" 'grep -q "ConnectionStateChanged (.chat., .Tidings., .connected.)" "$TMP/monitor0.log"'
check "ConnectionStateChanged reports the pub/sub connection" 'grep -q "ConnectionStateChanged (.pubsub., .local., .connected.)" "$TMP/monitor0.log"'

"$TIDINGS" --show pubsub > "$TMP/second.out" 2>&1
check "a second instance forwards --show and exits 0" '[ $? -eq 0 ]'

"$TIDINGS" --show nowhere > "$TMP/third.out" 2>&1; rc=$?
check "a bad --show is refused with a message" '[ $rc -ne 0 ] && grep -q "nowhere" "$TMP/third.out"'

out=$("$TIDINGS" --version)
check "--version answers without a window" 'echo "$out" | grep -Eq "^tidings [0-9]"'

call --method org.gtk.Actions.Activate quit '[]' '{}' >/dev/null
i=0
while [ $i -lt 100 ] && kill -0 $pid 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
check "quit over D-Bus ends the app" '! kill -0 $pid 2>/dev/null'

check "the view chosen by the second instance was saved" "grep -q \"last-view='pubsub'\" \"$KEYFILE\""

# An instance started for a command must not hold the command's output
# until it quits (its idle timeout is 10 s).
start=$(date +%s)
out=$("$TIDINGS" --unread 2>&1); rc=$?
end=$(date +%s)
check "with no instance, --unread starts one and answers at once" '[ $rc -eq 0 ] && echo "$out" | grep -q "^feeds	0$" && [ $((end - start)) -lt 9 ]'
check "the instance started for a command shows no window and stays on the bus" 'on_bus'
call --method org.gtk.Actions.Activate quit '[]' '{}' >/dev/null 2>&1
i=0
while [ $i -lt 100 ] && on_bus; do sleep 0.05; i=$((i + 1)); done
