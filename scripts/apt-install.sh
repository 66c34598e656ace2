#!/bin/sh
# Installs Debian packages for the gate's setup step ([[tool]] tables of packets.toml).
# Idempotent: apt-get skips what is installed. Refreshes the package lists only when they are
# missing or older than a day, so several tools do not each pay for `apt-get update`.
# Needs root (or password-less sudo); otherwise it says which command to run and exits 1.
set -eu
[ "$#" -gt 0 ] || { echo "usage: $0 PACKAGE..." >&2; exit 2; }
if ! command -v apt-get >/dev/null 2>&1; then
  echo "no apt-get on this system: install the packages $* with its package manager" >&2
  exit 1
fi
if [ "$(id -u)" = 0 ]; then
  as_root=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root="sudo -n"
else
  echo "not root and no password-less sudo: run as root: apt-get install -y $*" >&2
  exit 1
fi
if [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -n 1)" ]; then
  $as_root apt-get update -qq
fi
$as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
