#!/usr/bin/env bash
# Install what tests/bgp/bgp-announce.sh needs: FRR (the upstream router, and the optional IPv4-only
# speaker) and BIRD 2 (the agent host's speaker for IPv4 and IPv6), from the distribution's packages.
# Idempotent: does nothing when both are installed. Debian 12 / Ubuntu 22.04 or newer.
#
# Usage: scripts/setup-bgp-deps.sh          (as root, or with sudo available)
#
# The test starts its own daemons by hand in network namespaces with private sockets and configs;
# the package's own services (if the init system starts them) are not used and do not interfere.
set -euo pipefail

PACKAGES=(frr bird2 iproute2 iputils-ping)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$p")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "setup-bgp-deps: already installed: ${PACKAGES[*]}"
else
    SUDO=()
    if [[ $(id -u) != 0 ]]; then
        command -v sudo >/dev/null || { echo "setup-bgp-deps: run as root (missing: ${missing[*]})" >&2; exit 1; }
        SUDO=(sudo)
    fi
    echo "setup-bgp-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -q
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Report what the test will use.
for bin in /usr/lib/frr/zebra /usr/lib/frr/bgpd /usr/bin/vtysh /usr/sbin/bird /usr/sbin/birdc; do
    [[ -x $bin ]] || { echo "setup-bgp-deps: $bin missing after install" >&2; exit 1; }
done
echo "setup-bgp-deps: $(/usr/lib/frr/bgpd --version 2>/dev/null | head -1); $(bird --version 2>&1 | head -1)"
getent passwd frr >/dev/null || { echo "setup-bgp-deps: user frr missing" >&2; exit 1; }
getent passwd bird >/dev/null || { echo "setup-bgp-deps: user bird missing" >&2; exit 1; }
