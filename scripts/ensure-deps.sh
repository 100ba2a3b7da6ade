#!/usr/bin/env bash
# Installs the Debian packages QuantService builds and tests against, if missing. Used by `make`,
# CI and the Dockerfile, so all three install the same things the same way.
# As root it runs apt-get; otherwise it prints the exact command and fails.
#   scripts/ensure-deps.sh [--build-only]   (--build-only: what a release build needs, no Python)
set -euo pipefail

packages=(libsqlite3-dev libcurl4-openssl-dev libopenblas-dev libpq-dev)
# The PostgreSQL server for the scale-out tests (make test starts its own, on a free port), and
# nginx to test Deploy/nginx.conf in front of real replicas, and Chromium for the console's browser tests.
if [ "${1:-}" != "--build-only" ]; then packages+=(postgresql nginx-light chromium chromium-driver); fi
# The interop tests need a Python with venv support.
if [ "${1:-}" != "--build-only" ] && ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
  packages+=(python3 python3-venv)
fi

missing=()
for package in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "QuantService needs these Debian packages: ${missing[*]}" >&2
  echo "Install them with:  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing ${missing[*]} ..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
