#!/usr/bin/env bash
# Runs every test suite of the project and ends with one summary line.
# As root (CI), the kernel tests run for real in network namespaces; nothing is skipped.
# Suites: swift test (unit, kernel, API client, agent), the end-to-end metadata scenario, the BGP
# announcement test, short fuzz runs of the netlink and AMQP decoders, a real RabbitMQ (root or CI) and (when
# set up) a real Keystone + Neutron.
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failed_names=()

suite() {
    local name=$1; shift
    echo
    echo "==> suite: $name"
    local start=$SECONDS
    if "$@"; then
        passed=$((passed + 1))
        echo "==> suite $name: PASSED ($((SECONDS - start)) s)"
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        echo "==> suite $name: FAILED ($((SECONDS - start)) s)"
    fi
}

if [ "$(id -u)" != 0 ] && [ -z "${CI:-}" ]; then
    echo "note: not root; kernel tests that need namespaces will be skipped (CI runs them as root)"
fi

# A real Keystone and neutron-server from PyPI on 127.0.0.1, when the lab can be started.
lab_env=""
if [ -x scripts/openstack-lab/start.sh ] && { [ -n "${CI:-}" ] || [ -n "${MRA_WITH_LAB:-}" ]; }; then
    echo "==> starting a real Keystone + Neutron on 127.0.0.1 (scripts/openstack-lab)"
    if lab_env=$(scripts/openstack-lab/start.sh); then
        export MRA_LAB_ENV="$lab_env"
        trap 'scripts/openstack-lab/stop.sh "$MRA_LAB_ENV" >/dev/null 2>&1 || true' EXIT
    else
        echo "==> the OpenStack lab did not start"
        failed=$((failed + 1)); failed_names+=("openstack-lab")
    fi
fi

# A real RabbitMQ on 127.0.0.1 for the Events broker tests (scripts/rabbitmq), as root or in CI. It must start:
# EventsTests' broker suite then runs inside "swift test" (and fails in CI when the broker is missing).
rmq_started=""
if [ "$(id -u)" = 0 ] || [ -n "${CI:-}" ]; then
    echo "==> starting RabbitMQ on 127.0.0.1 (scripts/rabbitmq)"
    rmq_start=$SECONDS
    scripts/rabbitmq/ctl.sh -q ping >/dev/null 2>&1 || rmq_started=1
    if rmq_env=$(scripts/rabbitmq/start.sh); then
        eval "$rmq_env"
        echo "==> RabbitMQ ready ($((SECONDS - rmq_start)) s)"
    else
        echo "==> RabbitMQ did not start: the AMQP broker tests cannot run"
        failed=$((failed + 1)); failed_names+=("rabbitmq")
        rmq_started=""
    fi
fi

suite "swift test" swift test
swift build --product metadata-route-agent >/dev/null 2>&1
if [ "$(id -u)" = 0 ]; then
    [ -f tests/e2e/metadata-scenario.sh ] && suite "e2e metadata scenario" bash tests/e2e/metadata-scenario.sh
    [ -f tests/e2e/agent-cli.sh ] && suite "agent CLI in namespaces" bash tests/e2e/agent-cli.sh
    [ -f tests/bgp/bgp-announce.sh ] && suite "bgp announce" bash tests/bgp/bgp-announce.sh
    [ -n "${MRA_LAB_ENV:-}" ] && suite "agent against a real Keystone + Neutron" bash tests/e2e/real-cloud.sh
fi
[ -f scripts/fuzz-netlink.sh ] && suite "fuzz netlink decoder" bash scripts/fuzz-netlink.sh "${MRA_FUZZ_SECONDS:-20}"
[ -f scripts/fuzz-amqp.sh ] && suite "fuzz AMQP decoder" bash scripts/fuzz-amqp.sh "${MRA_FUZZ_SECONDS:-20}"
[ -n "$rmq_started" ] && scripts/rabbitmq/stop.sh

echo
if [ "$failed" -gt 0 ]; then echo "failed suites: ${failed_names[*]}"; fi
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
