#!/usr/bin/env bash
# rabbitmqctl for the tests' private node: scripts/rabbitmq/ctl.sh close_all_connections "test", list_queues …
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/env.sh"
exec "$mra_rmq_bin/rabbitmqctl" "$@"
