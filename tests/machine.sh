#!/usr/bin/env bash
# What the suite needs from the machine besides .venv: Debian's chromium (browser tests drive
# /usr/bin/chromium through Playwright), a Chinese font (so their screenshots show characters), and
# nginx, openssl and systemd-analyze (tests/test_ops_deploy.py checks deploy/ with them).
# Run by `make test`: installs what is missing when it runs as root with apt-get, otherwise
# stops with one line saying what to install. Never lets the browser tests be skipped.
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
{ command -v fc-list >/dev/null && fc-list :lang=zh | grep -q .; } || missing+=(fonts-wqy-microhei)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v openssl >/dev/null || missing+=(openssl)
command -v systemd-analyze >/dev/null || missing+=(systemd)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "installing ${missing[*]} for the browser and deployment tests..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq </dev/null >/dev/null
  apt-get install -y -qq "${missing[@]}" </dev/null >/dev/null
else
  echo "make test needs the Debian packages ${missing[*]}: run 'sudo apt-get install ${missing[*]}' and try again" >&2
  exit 1
fi
