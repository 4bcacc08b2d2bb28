#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# D-Bus activation: with nothing running, a call to io.github.tidings.Tidings
# makes the bus start Tidings from its service file, and the call is served.
set -u
TIDINGS=$1
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export XDG_CONFIG_HOME=$TMP/config XDG_DATA_HOME=$TMP/data
mkdir -p "$TMP/services"
cat > "$TMP/services/io.github.tidings.Tidings.service" <<SVC
[D-BUS Service]
Name=io.github.tidings.Tidings
Exec=$TIDINGS --gapplication-service
SVC
cat > "$TMP/bus.conf" <<CONF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:tmpdir=$TMP</listen>
  <auth>EXTERNAL</auth>
  <servicedir>$TMP/services</servicedir>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
CONF

echo "1..2"
# The call's error, if any, is part of the output; what the bus and the
# started instance printed goes to a log, shown if the call failed.
out=$(dbus-run-session --config-file="$TMP/bus.conf" -- sh -c '
  gdbus call --session --dest io.github.tidings.Tidings --object-path /io/github/tidings/Tidings \
    --method io.github.tidings.Tidings1.ListFeeds --timeout 30 2>&1
  gdbus call --session --dest io.github.tidings.Tidings --object-path /io/github/tidings/Tidings \
    --method org.gtk.Actions.Activate quit "[]" "{}" >/dev/null' 2>"$TMP/bus.log")
if [ "$out" = "(@a(xssuu) [],)" ]; then
  echo "ok 1 - a call starts Tidings through its service file"
else
  echo "not ok 1 - a call starts Tidings through its service file: $out"
  tail -n 40 "$TMP/bus.log" | sed 's/^/# /'
fi
if [ -f "$TMP/data/tidings/tidings.db" ]; then echo "ok 2 - the started instance opened its database"; else echo "not ok 2 - the started instance opened its database"; fi
