#!/usr/bin/env bash
# Runs the demo site from a clean clone: makes .venv if missing, installs the package with
# its demo extras (Flask, FastAPI, uvicorn, a2wsgi), then starts a real uvicorn server on
# 127.0.0.1 and prints the URL. Arguments go to `consentguard demo` (--host, --port).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[demo]'
if [ -x .venv/bin/consentguard ] && .venv/bin/python -c "import consentguard.cli" 2>/dev/null; then
  exec .venv/bin/consentguard demo "$@"
fi
exec .venv/bin/python -m consentguard.demo "$@"   # until the CLI exists
