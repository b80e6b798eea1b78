#!/bin/sh
# install-deps.sh -- install every Debian package omr needs to build, test and demo.
#
# Idempotent: asks dpkg which packages are missing and installs only those, so
# `make check` and `make demo` can call it on every run at almost no cost.
# Needs root (or sudo) only when something is actually missing.
set -eu

PKGS="build-essential pkg-config
 libtiff-dev libpng-dev libjpeg-dev zlib1g-dev libleptonica-dev libzbar-dev zbar-tools
 libsqlite3-dev sqlite3 libjansson-dev libmicrohttpd-dev libsodium-dev libssl-dev
 libcairo2-dev libpango1.0-dev libzint-dev fonts-ipafont-gothic fonts-ipafont-mincho
 bc time python3 chromium nodejs pspp r-base-core"
# pspp, r-base-core: test_export runs the export's SPSS syntax (codebook.sps) in PSPP
# and its R reader (codebook.R) in R
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"  # Debian splits npm out; NodeSource bundles it

missing=""
for p in $PKGS; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  exit 0
fi

echo "install-deps: installing:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
