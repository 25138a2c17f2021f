#!/usr/bin/env bash
# Makes sure Chromium is installed for the page tests (web/browsertest).
# Installs Debian's chromium package when run as root; otherwise fails with
# instructions. It never lets the page tests be skipped silently.
set -euo pipefail

if [ -x /usr/bin/chromium ] || command -v chromium >/dev/null 2>&1; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "Chromium is not installed; the page tests need it." >&2
	echo "Install it as root:  apt-get update && apt-get install -y chromium fonts-dejavu-core" >&2
	exit 1
fi

echo "Installing Chromium (apt-get install chromium fonts-dejavu-core)..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends chromium fonts-dejavu-core

if ! [ -x /usr/bin/chromium ] && ! command -v chromium >/dev/null 2>&1; then
	echo "Chromium still not found after apt-get install chromium." >&2
	exit 1
fi
