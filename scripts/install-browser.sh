#!/usr/bin/env bash
# Installs Debian's Chromium and its WebDriver (chromium + chromium-driver) for the
# real-browser tests (tests/browser/). Idempotent: does nothing when both are present.
# Needs root, or sudo without a password. Exits non-zero with a message when it cannot.
set -euo pipefail
cd "$(dirname "$0")"
. ./apt.sh

have() { command -v "$1" >/dev/null 2>&1; }

if have chromium && have chromedriver; then
  exit 0
fi

apt_install install-browser.sh chromium chromium-driver || exit 1

if ! have chromium || ! have chromedriver; then
  echo "install-browser.sh: chromium or chromedriver still missing after apt-get install" >&2
  exit 1
fi
echo "install-browser.sh: $(chromium --version 2>/dev/null | head -n1) ready"
