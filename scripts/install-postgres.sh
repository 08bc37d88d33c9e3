#!/usr/bin/env bash
# Installs Debian's PostgreSQL server (package `postgresql`) for the proof-of-consent store
# tests: the test fixture runs initdb and pg_ctl from /usr/lib/postgresql/NN/bin itself,
# as the `postgres` user the package creates, in a temporary directory; no system cluster
# is used. Idempotent: does nothing when a server is installed.
# Needs root, or sudo without a password. Exits non-zero with a message when it cannot.
set -euo pipefail
cd "$(dirname "$0")"
. ./apt.sh

have_server() {
  local bin
  for bin in /usr/lib/postgresql/*/bin; do
    [ -x "$bin/initdb" ] && [ -x "$bin/pg_ctl" ] && return 0
  done
  return 1
}

if have_server && id -u postgres >/dev/null 2>&1; then
  exit 0
fi

apt_install install-postgres.sh postgresql || exit 1

if ! have_server; then
  echo "install-postgres.sh: initdb or pg_ctl still missing after apt-get install" >&2
  exit 1
fi
echo "install-postgres.sh: $(ls -d /usr/lib/postgresql/*/bin | tail -n1) ready"
