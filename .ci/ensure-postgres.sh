#!/usr/bin/env bash
# Makes sure PostgreSQL server binaries (initdb, postgres) are installed: the
# app and the tests start their own embedded cluster with them. Installs
# Debian's postgresql package when run as root; otherwise fails with
# instructions.
set -euo pipefail

if command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
	exit 0
fi
if [ -n "${TEST_DATABASE_URL:-}" ]; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	echo "PostgreSQL server binaries are not installed; Guildhall's tests start an embedded cluster with them." >&2
	echo "Install them as root:  apt-get update && apt-get install -y postgresql" >&2
	echo "or point TEST_DATABASE_URL at a PostgreSQL server you run." >&2
	exit 1
fi
echo "Installing PostgreSQL server binaries (apt-get install postgresql)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends postgresql
# The package starts a system cluster; Guildhall runs its own, so stop it.
service postgresql stop >/dev/null 2>&1 || true
