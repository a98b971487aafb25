#!/usr/bin/env bash
# Starts a real Keystone 30 and neutron-server 29 on 127.0.0.1 (SQLite, state in a new directory
# under ${MRA_LAB_DIR:-/var/tmp/mra-openstack-lab}), registers the network service, creates an
# application credential and a topology, and prints the path of the lab's env file (lab.env, shell
# syntax; topology.json beside it). Run setup.sh first. Stop with: stop.sh <path printed>.
#   MRA_LAB_PAGE_LIMIT        neutron's pagination_max_limit (default 2: the server pages by itself)
#   MRA_LAB_KEEP_ON_FAILURE=1 keep the state directory when starting fails (logs are in it)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${MRA_LAB_DIR:-/var/tmp/mra-openstack-lab}/venv"
if [[ ! -x "$venv/bin/python" ]]; then
    echo "openstack-lab: no venv at $venv; run $here/setup.sh first" >&2
    exit 1
fi
exec "$venv/bin/python" "$here/lab.py" start "$@"
