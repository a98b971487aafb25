#!/usr/bin/env bash
# Installs the system tools the end-to-end test and the demo need, when missing (Debian/Ubuntu):
#   ip (iproute2), nft (nftables), curl, python3 (serves the metadata over HTTP).
# Does nothing when everything is present. CI calls it before the tests; needs root to install.
set -euo pipefail

declare -A package_of=([ip]=iproute2 [nft]=nftables [curl]=curl [python3]=python3)
missing=()
for tool in ip nft curl python3; do
    # nft and ip live in /usr/sbin, which a non-root PATH may lack.
    if ! command -v "$tool" >/dev/null 2>&1 && [[ ! -x /usr/sbin/$tool && ! -x /sbin/$tool ]]; then
        missing+=("${package_of[$tool]}")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "setup-deps: ip, nft, curl and python3 are present"
    exit 0
fi

echo "setup-deps: installing ${missing[*]}"
if [[ $(id -u) != 0 ]]; then
    echo "setup-deps: need root to install ${missing[*]} (try: sudo $0)" >&2
    exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-deps: no apt-get here; please install ${missing[*]} with your package manager" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
