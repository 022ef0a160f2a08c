#!/usr/bin/env bash
# Installs what the browser tests drive: Debian's Chromium at /usr/bin/chromium (Playwright's own browser download
# is not reachable here; the tests point Playwright at this one). Does nothing when it is already there.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
