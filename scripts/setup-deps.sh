#!/usr/bin/env bash
# Installs what the tests and the demo need, from Debian's packages (and PyPI for the OpenStack lab).
# Idempotent: packages already present are not fetched again.
#   scripts/setup-deps.sh        everything the tests need (Debian packages, RabbitMQ, FRR/BIRD, the OpenStack lab's venv)
#   scripts/setup-deps.sh base   only the Debian packages the demo needs (iproute2, nftables, curl, python3)
set -euo pipefail
scope=${1:-all}
cd "$(dirname "$0")/.."
need=()
for pkg in iproute2 nftables curl python3 iputils-ping procps util-linux libcap2-bin; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "==> installing Debian packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ "$scope" = all ]; then
    # RabbitMQ for the Events broker tests; scripts/rabbitmq/start.sh runs a private node (RUNLEVEL=1: the
    # package's own service is not started).
    if ! dpkg -s rabbitmq-server >/dev/null 2>&1; then
        echo "==> installing Debian packages: rabbitmq-server"
        apt-get update -qq
        RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null
    fi
    [ -x scripts/setup-bgp-deps.sh ] && bash scripts/setup-bgp-deps.sh
    [ -x scripts/openstack-lab/setup.sh ] && bash scripts/openstack-lab/setup.sh
fi
echo "==> dependencies ready"
