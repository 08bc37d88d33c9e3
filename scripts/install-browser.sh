#!/usr/bin/env bash
# Installs Debian's Chromium and its WebDriver (chromium + chromium-driver) for the
# real-browser tests (tests/browser/). Idempotent: does nothing when both are present.
# Needs root, or sudo without a password. Exits non-zero with a message when it cannot.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have chromium && have chromedriver; then
  exit 0
fi

if ! have apt-get; then
  echo "install-browser.sh: apt-get not found; install Chromium and chromedriver yourself" \
       "(the browser tests look for /usr/bin/chromium and /usr/bin/chromedriver)" >&2
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif have sudo && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "install-browser.sh: need root or password-less sudo to run" \
       "'apt-get install chromium chromium-driver'" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Another apt/dpkg run may hold the lock; wait for it rather than fail.
APT_OPTS=(-o DPkg::Lock::Timeout=300 -qq)

# Retry once after refreshing the package lists (a fresh container has none).
if ! "${SUDO[@]}" apt-get "${APT_OPTS[@]}" install -y --no-install-recommends \
       chromium chromium-driver >/dev/null 2>&1; then
  "${SUDO[@]}" apt-get "${APT_OPTS[@]}" update >/dev/null \
    || { echo "install-browser.sh: apt-get update failed" >&2; exit 1; }
  "${SUDO[@]}" apt-get "${APT_OPTS[@]}" install -y --no-install-recommends \
       chromium chromium-driver >/dev/null \
    || { echo "install-browser.sh: apt-get install chromium chromium-driver failed" >&2; exit 1; }
fi

if ! have chromium || ! have chromedriver; then
  echo "install-browser.sh: chromium or chromedriver still missing after apt-get install" >&2
  exit 1
fi
echo "install-browser.sh: $(chromium --version 2>/dev/null | head -n1) ready"
