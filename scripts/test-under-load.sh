#!/bin/sh
# npm test with two CPU hogs beside it (stress-ng --cpu 2, Debian's package): the suite must pass
# on a busy machine too. Installs stress-ng when missing; stops the hogs it started, by PID.
set -eu
cd "$(dirname "$0")/.."
if ! command -v stress-ng >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq stress-ng
fi
stress-ng --cpu 2 --quiet &
hogs=$!
trap 'kill "$hogs" 2>/dev/null || true; wait "$hogs" 2>/dev/null || true' EXIT INT TERM HUP
npm test
