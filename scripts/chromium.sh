#!/usr/bin/env bash
# The browser tests drive Debian's Chromium; Playwright cannot download its own browser here.
set -u
if [ -x /usr/bin/chromium ]; then exit 0; fi
echo "Installing Debian's chromium for the browser tests..."
if [ "$(id -u)" != "0" ]; then
  echo "make test: /usr/bin/chromium is missing; install it as root: apt-get install -y chromium" >&2
  exit 1
fi
(apt-get install -y -q chromium || (apt-get update -q && apt-get install -y -q chromium)) >/tmp/closebooks-chromium.log 2>&1 \
  || { echo "make test: installing chromium failed; see /tmp/closebooks-chromium.log" >&2; exit 1; }
[ -x /usr/bin/chromium ] || { echo "make test: chromium installed but /usr/bin/chromium is missing" >&2; exit 1; }
