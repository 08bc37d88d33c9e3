#!/usr/bin/env bash
# The whole test suite, from a clean clone: makes .venv, installs the package with its
# test extras, runs pytest. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
venv_install dev
exec .venv/bin/python -m pytest "$@"
