#!/usr/bin/env bash
# make bench — scale and speed of metadata-route-agent against a generated Neutron cloud.
#
#   scripts/bench.sh [--large] [--sizes 1000,10000] [--no-build] [--reference N|0] [--max-page M] [--out DIR]
#                    [--no-events] [--no-lab] [--lab-env FILE] [--events-changes N]
#
# Builds the release binaries (swift build -c release), then for N = 1,000 and 10,000 routers
# (and 100,000 with --large) runs, each N in a fresh network namespace that is always deleted:
# a full sync from an empty table, a no-op resync, a 1% churn resync, and the same routes through
# `ip -batch` (nexthop objects and classic via); at N = 1,000 also the 2013 method. Needs root.
# Prints a table and writes bench-results/<UTC time>/{results.json,table.md,logs}.
# Then the notifications benchmark (scripts/bench/events.py; --no-events skips it): the stand-in publishing its
# changes to the tests' RabbitMQ (scripts/rabbitmq, started here when not running), the agent daemon following them
# at --interval 3600: change-to-kernel latency, CPU and API requests per change; and the same latency against the
# real neutron-server lab (scripts/openstack-lab, started here with notifications unless --no-lab or --lab-env).
# Writes bench-results/events-<UTC time>/{events.json,events.md,logs}.
set -euo pipefail
cd "$(dirname "$0")/.."

orig="$*"
sizes="1000,10000"
build=1
events=1
lab=1
lab_env=""
ev_pass=()
pass=()
while [ $# -gt 0 ]; do
    case "$1" in
        --large) sizes="1000,10000,100000" ;;
        --sizes) sizes="$2"; shift ;;
        --no-build) build=0 ;;
        --no-events) events=0 ;;
        --no-lab) lab=0 ;;
        --lab-env) lab_env="$2"; shift ;;
        --events-changes) ev_pass+=(--changes "$2"); shift ;;
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

status=0
python3 -B scripts/bench/run.py --bin "$bin" --sizes "$sizes" --command "scripts/bench.sh${orig:+ $orig}" ${pass[@]+"${pass[@]}"} || status=$?
[ "$events" = 1 ] || exit "$status"

# --- notifications -------------------------------------------------------------------------------------------------
rmq_started=""
scripts/rabbitmq/ctl.sh -q ping >/dev/null 2>&1 || rmq_started=1
eval "$(scripts/rabbitmq/start.sh)" || { echo "bench: RabbitMQ did not start (scripts/rabbitmq/start.sh)" >&2; exit 1; }
lab_started=""
cleanup_events() {
    if [ -n "$lab_started" ]; then scripts/openstack-lab/stop.sh "$lab_env" >/dev/null 2>&1 || true; fi
    if [ -n "$rmq_started" ]; then scripts/rabbitmq/stop.sh >/dev/null 2>&1 || true; fi
}
trap cleanup_events EXIT
if [ -z "$lab_env" ] && [ "$lab" = 1 ]; then
    echo "bench: starting the OpenStack lab with notifications (scripts/openstack-lab; --no-lab skips the real-lab part)"
    bash scripts/openstack-lab/setup.sh
    lab_env=$(MRA_LAB_RABBITMQ_CTL="$PWD/scripts/rabbitmq/ctl.sh" MRA_LAB_RABBITMQ_PORT="${MRA_RABBITMQ_PORT:-5672}" MRA_LAB_PAGE_LIMIT=0 \
        scripts/openstack-lab/start.sh) || { echo "bench: the OpenStack lab did not start" >&2; exit 1; }
    lab_started=1
fi
out="bench-results/events-$(date -u +%Y%m%dT%H%M%SZ)"
python3 -B scripts/bench/events.py --bin "$bin" --sizes "$sizes" --out "$out" --rabbitmq-port "${MRA_RABBITMQ_PORT:-5672}" \
    ${lab_env:+--lab-env "$lab_env"} --command "scripts/bench.sh${orig:+ $orig}" ${ev_pass[@]+"${ev_pass[@]}"} || status=$?
exit "$status"
