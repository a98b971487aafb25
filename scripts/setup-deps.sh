#!/usr/bin/env bash
# Installs what the tests and the demo need, from Debian's packages (and PyPI for the OpenStack lab).
# Idempotent: packages already present are not fetched again.
#   scripts/setup-deps.sh        everything the tests need (Debian packages, RabbitMQ, FRR/BIRD, the OpenStack lab's venv)
#   scripts/setup-deps.sh base   only the Debian packages the demo needs (iproute2, nftables, curl, python3)
# `all` also installs what the packaging tests need (tests/package/): dpkg-dev, debootstrap, lintian, man-db,
# systemd-analyze (systemd) when missing, and promtool: taken out of Debian's prometheus package into
# /var/tmp/mra-prometheus (installing the package would start a Prometheus server on every interface).
set -euo pipefail
scope=${1:-all}
cd "$(dirname "$0")/.."
need=()
for pkg in iproute2 nftables curl python3 python3-yaml iputils-ping procps util-linux libcap2-bin; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "==> installing Debian packages: ${need[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [ "$scope" = all ]; then
    pkg_need=()
    for pkg in dpkg-dev debootstrap lintian man-db xz-utils; do
        dpkg -s "$pkg" >/dev/null 2>&1 || pkg_need+=("$pkg")
    done
    command -v systemd-analyze >/dev/null 2>&1 || pkg_need+=(systemd)
    if [ ${#pkg_need[@]} -gt 0 ]; then
        echo "==> installing Debian packages for the packaging tests: ${pkg_need[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkg_need[@]}" >/dev/null
    fi
    if ! command -v promtool >/dev/null 2>&1 && [ ! -x /var/tmp/mra-prometheus/usr/bin/promtool ]; then
        echo "==> extracting promtool from Debian's prometheus package into /var/tmp/mra-prometheus"
        dl=$(mktemp -d) && chmod 0755 "$dl"   # apt downloads as _apt
        (cd "$dl" && apt-get download -qq prometheus >/dev/null) || { apt-get update -qq && (cd "$dl" && apt-get download -qq prometheus >/dev/null); }
        dpkg-deb -x "$dl"/prometheus_*.deb /var/tmp/mra-prometheus
        rm -rf "$dl"
    fi
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
