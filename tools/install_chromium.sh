#!/usr/bin/env bash
# Installs Debian's chromium package for the browser tests (make browser). Needs root or password-less sudo;
# otherwise says so in one line and fails, so `make test` stops before any test runs.
set -euo pipefail
if [ "$(id -u)" = 0 ]; then
    SUDO=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
    SUDO=(sudo -n)
else
    echo "make browser: Chromium is missing and installing it needs root; run 'apt-get install chromium' as root, or set CHROMIUM=/path/to/chromium" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh machine may have no package lists yet: read them only when the first try fails.
if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; then
    "${SUDO[@]}" apt-get update -qq >/dev/null
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
echo "make browser: installed $(chromium --version 2>/dev/null)"
