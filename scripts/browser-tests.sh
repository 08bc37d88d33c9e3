#!/usr/bin/env bash
# The real-browser suite alone: installs Debian's chromium + chromium-driver when missing
# (scripts/install-browser.sh), then runs tests/browser against the demo server, failing
# (not skipping) if the browser cannot start. Screenshots land in artifacts/screenshots/.
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-browser.sh
export CG_REQUIRE_BROWSER=1
exec bash scripts/test.sh -m browser tests/browser "$@"
