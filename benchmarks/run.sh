#!/usr/bin/env bash
# Run every benchmark and print the markdown report (a few minutes on 2 cores).
#   bash benchmarks/run.sh                      # full run
#   bash benchmarks/run.sh --quick              # smoke run, not for quoting
#   bash benchmarks/run.sh --output benchmarks/RESULTS.md
# To compare the hot path with an earlier commit: .venv/bin/python -m benchmarks.compare REV
# Where a request's time goes, step by step: .venv/bin/python -m benchmarks.breakdown
# What a remembered visitor costs in memory: .venv/bin/python -m benchmarks.memory
# Uses .venv (made with the test extra if missing); installs wrk from apt when it is
# missing and we are root, otherwise the real-server part is skipped with a message.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/venv.sh
.venv/bin/python -c "import flask, starlette, fastapi, uvicorn, gunicorn" 2>/dev/null \
    || venv_install test

if ! command -v wrk >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing wrk (apt-get install -y wrk)…" >&2
        (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null 2>&1 \
            || echo "could not install wrk: the real-server benchmark will be skipped" >&2
    else
        echo "wrk is not installed and we are not root: the real-server benchmark will be" \
             "skipped (install it with: sudo apt-get install wrk)" >&2
    fi
fi

exec .venv/bin/python -m benchmarks "$@"
