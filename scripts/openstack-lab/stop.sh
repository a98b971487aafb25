#!/usr/bin/env bash
# Stops the servers of a lab started by start.sh and removes its state directory.
#   stop.sh <lab dir | path of its lab.env>
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="${1:?usage: stop.sh <lab dir | lab.env>}"
[[ -f "$target" ]] && target="$(dirname "$target")"
venv="${MRA_LAB_DIR:-/var/tmp/mra-openstack-lab}/venv"
py="$venv/bin/python"
[[ -x "$py" ]] || py=python3
exec "$py" "$here/lab.py" stop "$target"
