#!/usr/bin/env bash
# Runs every test suite of the project and ends with one summary line.
# As root (CI), the kernel tests run for real in network namespaces; nothing is skipped.
# Suites: swift test (unit, kernel, API client, agent), the end-to-end metadata scenario, the chaos
# suite (tests/chaos: kill -9, two writers, empty/inconsistent answers, slowloris, link flaps), the BGP
# announcement test, a short fuzz run of the netlink decoder, and (when set up) a real Keystone + Neutron.
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

suite "swift test" swift test
swift build --product metadata-route-agent >/dev/null 2>&1
if [ "$(id -u)" = 0 ]; then
    [ -f tests/e2e/metadata-scenario.sh ] && suite "e2e metadata scenario" bash tests/e2e/metadata-scenario.sh
    [ -f tests/e2e/agent-cli.sh ] && suite "agent CLI in namespaces" bash tests/e2e/agent-cli.sh
    [ -f tests/chaos/chaos.sh ] && suite "chaos" bash tests/chaos/chaos.sh
    [ -f tests/bgp/bgp-announce.sh ] && suite "bgp announce" bash tests/bgp/bgp-announce.sh
    [ -n "${MRA_LAB_ENV:-}" ] && suite "agent against a real Keystone + Neutron" bash tests/e2e/real-cloud.sh
fi
[ -f scripts/fuzz-netlink.sh ] && suite "fuzz netlink decoder" bash scripts/fuzz-netlink.sh "${MRA_FUZZ_SECONDS:-20}"

echo
if [ "$failed" -gt 0 ]; then echo "failed suites: ${failed_names[*]}"; fi
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
