#!/usr/bin/env bash
# Installs what cycle needs on a fresh Debian machine (run as root there; on a laptop with Docker
# and Python 3.11+ no root is needed): a virtualenv with the Python dependencies, a Docker engine
# when none answers (Debian's docker.io, dockerd started with --bridge=none --iptables=false
# --ip-masq=false), and the base images. Safe to run again: each step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { echo "setup: $*" >&2; }
APT_UPDATED=""
apt_install() {
    if [ "$(id -u)" != 0 ]; then
        say "missing: $*. Install them (sudo apt-get install $*) or run this script as root."
        exit 1
    fi
    if [ -z "$APT_UPDATED" ]; then apt-get update -qq; APT_UPDATED=1; fi
    say "installing Debian packages: $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! python3 -c 'import sys, ensurepip; assert sys.version_info >= (3, 11)' 2>/dev/null; then
    apt_install python3 python3-venv python3-pip
fi
if [ ! -x .venv/bin/python ]; then
    say "creating the virtualenv .venv"
    python3 -m venv .venv
fi
stamp=$(sha256sum pyproject.toml | cut -c1-16)
if [ "$(cat .venv/.cycle-deps 2>/dev/null)" != "$stamp" ]; then
    say "installing Python dependencies into .venv"
    .venv/bin/pip install -q --disable-pip-version-check -e '.[test]' >.venv/pip.log 2>&1 || { cat .venv/pip.log; exit 1; }
    echo "$stamp" > .venv/.cycle-deps
fi

# The offline base images: Debian (built with mmdebstrap from this machine's apt mirror) where no
# registry gives the real ubuntu images, and the busybox stand-in the fast tests use.
if [ ! -x /bin/busybox ] || [ ! -x /bin/bash-static ]; then
    apt_install busybox-static bash-static
fi
if ! command -v mmdebstrap >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt_install mmdebstrap
fi
# The engine (used as it is when one answers, otherwise installed as root and started), a base
# image for every [ubuntu] version (about 1-2 minutes the first time, seconds after), the doctor.
.venv/bin/cycle emulator setup
