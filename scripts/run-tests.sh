#!/usr/bin/env bash
# Runs every test suite of the project and ends with one summary line.
# As root (CI), the kernel tests run for real in network namespaces; nothing is skipped.
# Suites: swift test (unit, kernel, API client, agent, and the command line run for real in namespaces:
# CLITests), the end-to-end metadata scenario, the chaos suite (tests/chaos: kill -9, two writers,
# empty/inconsistent answers, slowloris, link flaps, bad SIGHUP), the BGP announcement test, short fuzz runs
# of the netlink, AMQP and Neutron page decoders, a real RabbitMQ (root or CI: EventsTests' broker suite), a real
# Keystone + Neutron (as root it is set up and started; if it cannot be, the run fails: MRA_SKIP_LAB=1 skips it,
# saying so) whose notifications go to that RabbitMQ (tests/e2e/events-real-neutron.sh: the daemon following them); the alert rules (promtool, and the metrics they use on a running agent) and, as
# root, the Debian package installed into a minimal Debian 12 root (it builds the static release binary
# once: the slowest suite).
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

# A real RabbitMQ on 127.0.0.1 for the Events broker tests (scripts/rabbitmq), as root or in CI. It must start:
# EventsTests' broker suite then runs inside "swift test" (and fails in CI when the broker is missing). It starts
# before the OpenStack lab, whose neutron-server sends its notifications there (driver = messagingv2).
rmq_started=""
rmq_env=""
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

# A real Keystone and neutron-server from PyPI on 127.0.0.1, its notifications to the RabbitMQ above (when that runs).
# As root (or in CI, or with MRA_WITH_LAB=1) it is set up when missing and started; when that fails, the run fails and says why: never a silent skip.
lab_env=""
lab_wanted=""
if [ "$(id -u)" = 0 ] || [ -n "${CI:-}" ] || [ -n "${MRA_WITH_LAB:-}" ]; then lab_wanted=1; fi
if [ -n "${MRA_SKIP_LAB:-}" ]; then
    echo "==> NOTE: MRA_SKIP_LAB is set: the real Keystone + Neutron suite is SKIPPED on request"
    lab_wanted=""
elif [ -z "$lab_wanted" ]; then
    echo "==> NOTE: not root: the real Keystone + Neutron suite is SKIPPED (run as root, or set MRA_WITH_LAB=1)"
fi
if [ -n "$lab_wanted" ]; then
    # Idempotent and quick when the venv is complete (make test has usually run it through setup-deps.sh).
    echo "==> setting up the OpenStack lab if needed (scripts/openstack-lab/setup.sh)"
    if ! bash scripts/openstack-lab/setup.sh; then
        echo "==> FAILED: the OpenStack lab could not be set up (see above)"
        failed=$((failed + 1)); failed_names+=("openstack-lab setup")
    elif lab_env=$(if [ -n "$rmq_env" ]; then export MRA_LAB_RABBITMQ_CTL="$PWD/scripts/rabbitmq/ctl.sh" MRA_LAB_RABBITMQ_PORT="${MRA_RABBITMQ_PORT:-5672}"; fi
                   lab_start=$SECONDS; scripts/openstack-lab/start.sh && echo "==> OpenStack lab up ($((SECONDS - lab_start)) s)" >&2); then
        export MRA_LAB_ENV="$lab_env"
        trap 'scripts/openstack-lab/stop.sh "$MRA_LAB_ENV" >/dev/null 2>&1 || true' EXIT
    else
        echo "==> FAILED: the OpenStack lab did not start, so the real Keystone + Neutron suite cannot run"
        failed=$((failed + 1)); failed_names+=("openstack-lab")
    fi
fi

suite "swift test" swift test
swift build --product metadata-route-agent >/dev/null 2>&1
swift build --product neutron-standin >/dev/null 2>&1   # the metadata scenario's Neutron
if [ "$(id -u)" = 0 ]; then
    [ -f tests/e2e/metadata-scenario.sh ] && suite "e2e metadata scenario" bash tests/e2e/metadata-scenario.sh
    [ -f tests/chaos/chaos.sh ] && suite "chaos" bash tests/chaos/chaos.sh
    [ -f tests/bgp/bgp-announce.sh ] && suite "bgp announce" bash tests/bgp/bgp-announce.sh
fi
if [ -n "${MRA_LAB_ENV:-}" ]; then
    if [ "$(id -u)" = 0 ]; then
        suite "agent against a real Keystone + Neutron" bash tests/e2e/real-cloud.sh
        suite "daemon following a real Neutron's notifications (RabbitMQ)" bash tests/e2e/events-real-neutron.sh
    else
        echo "==> NOTE: tests/e2e/real-cloud.sh needs root (namespaces): SKIPPED; the Swift client tests did use the lab"
    fi
fi
[ -f tests/package/rules-metrics.sh ] && suite "alert rules (promtool, metrics of a running agent)" bash tests/package/rules-metrics.sh
if [ "$(id -u)" = 0 ] && [ -f tests/package/install-test.sh ]; then
    suite "Debian package in a minimal Debian 12 root" bash tests/package/install-test.sh
fi
[ -f scripts/fuzz-netlink.sh ] && suite "fuzz netlink decoder" bash scripts/fuzz-netlink.sh "${MRA_FUZZ_SECONDS:-20}"
[ -f scripts/fuzz-amqp.sh ] && suite "fuzz AMQP decoder" bash scripts/fuzz-amqp.sh "${MRA_FUZZ_SECONDS:-20}"
[ -f scripts/fuzz-neutron.sh ] && suite "fuzz Neutron page decoder" bash scripts/fuzz-neutron.sh "${MRA_FUZZ_SECONDS:-20}"
# The lab first (its stop removes its vhost and user from the broker), then the broker.
if [ -n "${MRA_LAB_ENV:-}" ]; then scripts/openstack-lab/stop.sh "$MRA_LAB_ENV" >/dev/null 2>&1 || true; trap - EXIT; fi
[ -n "$rmq_started" ] && scripts/rabbitmq/stop.sh

echo
if [ "$failed" -gt 0 ]; then echo "failed suites: ${failed_names[*]}"; fi
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
