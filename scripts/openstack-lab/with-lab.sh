#!/usr/bin/env bash
# Installs (if needed) and starts the lab, runs a command with MRA_LAB_ENV set to the lab's env file,
# then always stops the lab. Exit status: the command's (or start's, if the lab did not come up).
#   with-lab.sh swift test --filter RealCloudIntegrationTests
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
(( $# )) || { echo "usage: with-lab.sh COMMAND [ARG...]" >&2; exit 2; }
t0=$(date +%s)
"$here/setup.sh"
t1=$(date +%s)
env_file="$("$here/start.sh")"
t2=$(date +%s)
trap '"$here/stop.sh" "$env_file" || true' EXIT
echo "openstack-lab: setup $((t1 - t0)) s, start $((t2 - t1)) s; MRA_LAB_ENV=$env_file" >&2
status=0
MRA_LAB_ENV="$env_file" "$@" || status=$?
exit "$status"
