#!/usr/bin/env bash
# Runs the demo site from a clean clone: makes .venv if missing, installs the package with
# its demo extras (Flask, FastAPI, uvicorn, a2wsgi), then starts a real uvicorn server on
# 127.0.0.1 and prints the URL. Arguments go to `consentguard demo` (--host, --port).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
venv_install demo
exec .venv/bin/consentguard demo "$@"
