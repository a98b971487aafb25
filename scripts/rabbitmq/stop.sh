#!/usr/bin/env bash
# Stops the tests' private RabbitMQ node and its epmd (idempotent: nothing running is fine).
#   scripts/rabbitmq/stop.sh [--purge]   --purge also removes the node's state directory
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"
if "$mra_rmq_bin/rabbitmqctl" -q ping >/dev/null 2>&1; then
    timeout 60 "$mra_rmq_bin/rabbitmqctl" -q shutdown >/dev/null 2>&1 || true
fi
if [ -f "$RABBITMQ_PID_FILE" ]; then
    pid=$(cat "$RABBITMQ_PID_FILE")
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid"; sleep 1; fi
    rm -f "$RABBITMQ_PID_FILE"
fi
epmd -port "$ERL_EPMD_PORT" -kill >/dev/null 2>&1 || true
if [ "${1:-}" = --purge ]; then rm -rf "$mra_rmq_dir"; fi
exit 0
