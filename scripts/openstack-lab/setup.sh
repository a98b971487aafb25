#!/usr/bin/env bash
# Installs a real Keystone and a real neutron-server (from PyPI) into a venv outside the repository,
# for the integration test against a real cloud (Tests/OpenStackTests/RealCloudIntegrationTests.swift).
# Idempotent: a second run with the venv already complete does nothing but check it.
#
#   MRA_LAB_DIR   where the venv lives (default /var/tmp/mra-openstack-lab); never inside the repo
#   MRA_LAB_PYTHON  the interpreter to build the venv with (default: python3.11, python3.12, python3)
set -euo pipefail

LAB_DIR="${MRA_LAB_DIR:-/var/tmp/mra-openstack-lab}"
VENV="$LAB_DIR/venv"
KEYSTONE_VERSION="30.0.0"
NEUTRON_VERSION="29.0.0"
GUNICORN_VERSION="23.0.0"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# Every transitive dependency pinned to versions known to work (pip freeze of a working lab).
CONSTRAINTS="$HERE/constraints.txt"
constraints_sum=$(cksum < "$CONSTRAINTS" | cut -d' ' -f1)
STAMP="$VENV/.mra-lab-installed-keystone-$KEYSTONE_VERSION-neutron-$NEUTRON_VERSION-gunicorn-$GUNICORN_VERSION-c$constraints_sum"

started=$(date +%s)
log() { echo "openstack-lab setup: $*" >&2; }

if [[ -f "$STAMP" ]] && "$VENV/bin/python" -c 'import keystone, neutron, gunicorn' 2>/dev/null; then
    log "venv $VENV already complete"
    exit 0
fi

# Debian packages: a C toolchain and headers for the few dependencies that may build from source.
need_apt=()
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc)
[[ -e /usr/include/ffi.h || -e /usr/include/x86_64-linux-gnu/ffi.h ]] || need_apt+=(libffi-dev)
[[ -e /usr/include/openssl/ssl.h ]] || need_apt+=(libssl-dev)
command -v sqlite3 >/dev/null 2>&1 || need_apt+=(sqlite3)
if ((${#need_apt[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
        log "installing Debian packages: ${need_apt[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    else
        log "warning: missing ${need_apt[*]} and cannot apt-get install them (not root)"
    fi
fi

pick_python() {
    if [[ -n "${MRA_LAB_PYTHON:-}" ]]; then echo "$MRA_LAB_PYTHON"; return; fi
    local p
    for p in python3.11 python3.12 python3; do
        if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 10) else 1)' 2>/dev/null; then
            echo "$p"; return
        fi
    done
    log "no python >= 3.10 with venv found"; exit 1
}

mkdir -p "$LAB_DIR"
if [[ ! -x "$VENV/bin/python" ]]; then
    py=$(pick_python)
    log "creating venv $VENV with $($py --version 2>&1)"
    "$py" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --upgrade pip setuptools wheel
log "pip install keystone==$KEYSTONE_VERSION neutron==$NEUTRON_VERSION gunicorn==$GUNICORN_VERSION (constraints: $CONSTRAINTS)"
"$VENV/bin/python" -m pip install -q -c "$CONSTRAINTS" \
    "keystone==$KEYSTONE_VERSION" "neutron==$NEUTRON_VERSION" "gunicorn==$GUNICORN_VERSION"
"$VENV/bin/python" -c 'import keystone, neutron, neutron_lib, keystonemiddleware, gunicorn'
rm -f "$VENV"/.mra-lab-installed-*
touch "$STAMP"
log "done in $(( $(date +%s) - started )) s"
