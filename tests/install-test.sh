#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# `meson install --destdir` produces everything a desktop needs.
set -u
BUILD=$1
DEST=$(mktemp -d)
trap 'rm -rf "$DEST"' EXIT
meson install -C "$BUILD" --destdir "$DEST" --no-rebuild --quiet >/dev/null 2>&1 || { echo "1..1"; echo "not ok 1 - meson install"; exit 0; }
files="bin/tidings bin/tidingsd
share/applications/io.github.tidings.Tidings.desktop
share/metainfo/io.github.tidings.Tidings.metainfo.xml
share/glib-2.0/schemas/io.github.tidings.Tidings.gschema.xml
share/dbus-1/services/io.github.tidings.Tidings.service
share/dbus-1/interfaces/io.github.tidings.Tidings1.xml
share/icons/hicolor/scalable/apps/io.github.tidings.Tidings.svg
share/icons/hicolor/symbolic/apps/io.github.tidings.Tidings-symbolic.svg
share/locale/de/LC_MESSAGES/tidings.mo"
echo "1..$(echo "$files" | wc -w)"
n=0
for f in $files; do
  n=$((n + 1))
  if [ -n "$(find "$DEST" -path "*/$f" -type f)" ]; then echo "ok $n - $f"; else echo "not ok $n - $f"; fi
done
