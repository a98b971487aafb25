#!/usr/bin/env bash
# Installs what the tests and the demo need, from Debian's packages (and PyPI for the OpenStack lab).
# Idempotent: packages already present are not fetched again.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
for pkg in iproute2 nftables curl python3 iputils-ping procps util-linux libcap2-bin; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ -x scripts/setup-bgp-deps.sh ]; then :; fi
if [ ${#need[@]} -gt 0 ]; then
    echo "==> installing Debian packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ -x scripts/setup-bgp-deps.sh ] && bash scripts/setup-bgp-deps.sh
[ -x scripts/openstack-lab/setup.sh ] && bash scripts/openstack-lab/setup.sh
echo "==> dependencies ready"
