#!/usr/bin/env bash
# make bench — scale and speed of metadata-route-agent against a generated Neutron cloud.
#
#   scripts/bench.sh [--large] [--sizes 1000,10000] [--no-build] [--reference N|0] [--max-page M] [--out DIR]
#
# Builds the release binaries (swift build -c release), then for N = 1,000 and 10,000 routers
# (and 100,000 with --large) runs, each N in a fresh network namespace that is always deleted:
# a full sync from an empty table, a no-op resync, a 1% churn resync, and the same routes through
# `ip -batch` (nexthop objects and classic via); at N = 1,000 also the 2013 method. Needs root.
# Prints a table and writes bench-results/<UTC time>/{results.json,table.md,logs}.
set -euo pipefail
cd "$(dirname "$0")/.."

orig="$*"
sizes="1000,10000"
build=1
pass=()
while [ $# -gt 0 ]; do
    case "$1" in
        --large) sizes="1000,10000,100000" ;;
        --sizes) sizes="$2"; shift ;;
        --no-build) build=0 ;;
        --reference|--max-page|--out|--churn|--classic-max|--agent-arg) pass+=("$1" "$2"); shift ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        *) echo "bench: unknown argument $1 (see --help)" >&2; exit 64 ;;
    esac
    shift
done

if [ "$(id -u)" != 0 ]; then
    echo "bench: needs root (it creates network namespaces); try: sudo make bench" >&2
    exit 1
fi
missing=()
[ -x /usr/bin/time ] || missing+=(time)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
command -v ip >/dev/null || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench: installing ${missing[*]}" >&2
    apt-get install -y -q "${missing[@]}" >/dev/null || { apt-get update -q >/dev/null && apt-get install -y -q "${missing[@]}" >/dev/null; }
fi

if [ "$build" = 1 ]; then
    swift build -c release --product metadata-route-agent
    swift build -c release --product neutron-standin
    swift build -c release --product mra-bench
fi
bin="$(swift build -c release --show-bin-path)"
for b in metadata-route-agent neutron-standin; do
    [ -x "$bin/$b" ] || { echo "bench: $bin/$b is missing; run without --no-build" >&2; exit 1; }
done

exec python3 -B scripts/bench/run.py --bin "$bin" --sizes "$sizes" --command "scripts/bench.sh${orig:+ $orig}" ${pass[@]+"${pass[@]}"}
