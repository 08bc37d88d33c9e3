#!/usr/bin/env bash
# The documentation site: makes .venv (as scripts/test.sh does), installs the package with
# its docs extra and builds docs/ into docs/_build/html. Warnings are errors (-W, and every
# cross-reference must resolve: nitpicky in docs/conf.py). Extra arguments go to sphinx-build.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
venv_install dev     # dev includes docs, and the frameworks autodoc imports
exec .venv/bin/python -m sphinx -W --keep-going -n -b html "$@" docs docs/_build/html
