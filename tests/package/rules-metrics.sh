#!/usr/bin/env bash
# The alert rules watch metrics that exist: runs the agent (root, in a network namespace of its own, fed the
# bundled snapshot), scrapes its /metrics, and checks that
#   1. every metric the core rule group uses is exposed (a histogram's _bucket/_sum/_count by its base name);
#   2. every series the promtool tests feed for those metrics uses label names the agent really exposes;
#   3. `promtool test rules` passes.
# Metrics of the group "metadata-route-agent-events" exist when the agent follows notifications: with the tests'
# RabbitMQ (MRA_RABBITMQ_URL, exported by scripts/run-tests.sh) the agent runs with --events-url and they are
# required; without a broker they are listed as pending (MRA_RULES_REQUIRE_ALL=1 makes them required anyway).
#   tests/package/rules-metrics.sh            (MRA_BIN=path/to/metadata-route-agent, default the debug build)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${MRA_BIN:-.build/debug/metadata-route-agent}
rules=packaging/prometheus/metadata-route-agent.rules.yml
tests=packaging/prometheus/tests/metadata-route-agent.rules.test.yml

# promtool: on PATH, or where scripts/setup-deps.sh extracts it from Debian's prometheus package.
[ -x /var/tmp/mra-prometheus/usr/bin/promtool ] && ! command -v promtool >/dev/null && PATH=$PATH:/var/tmp/mra-prometheus/usr/bin
if ! command -v promtool >/dev/null; then
    # CI and root runs have it (make test runs scripts/setup-deps.sh first); elsewhere say what is missing.
    if [ "$(id -u)" = 0 ] || [ -n "${CI:-}" ]; then echo "FAIL: promtool missing: run scripts/setup-deps.sh"; exit 1; fi
    echo "SKIP: promtool missing (scripts/setup-deps.sh, as root, provides it)"; exit 0
fi
echo "--- promtool test rules"
promtool check rules "$rules"
promtool test rules "$tests"

if [ "$(id -u)" != 0 ]; then echo "SKIP: scraping a running agent needs root (a network namespace)"; exit 0; fi
[ -x "$bin" ] || { echo "FAIL: no agent binary at $bin (swift build, or set MRA_BIN)"; exit 1; }

ns=mra-rules-$$-$RANDOM
work=$(mktemp -d)
pid=""
cleanup() {
    if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM
ip netns add "$ns"
ip -n "$ns" link set lo up
# The routers' gateways of the bundled snapshot sit on 203.0.113.0/24 and 2001:db8:100::/64: a veth
# link there makes the agent install routes (so the write counters appear), all inside the namespace.
ip -n "$ns" link add ext0 type veth peer name ext1
ip -n "$ns" link set ext1 up
ip -n "$ns" link set ext0 up
ip -n "$ns" addr add 203.0.113.2/24 dev ext0
ip -n "$ns" addr add 2001:db8:100::2/64 dev ext0 nodad

# With the tests' RabbitMQ (scripts/rabbitmq, which scripts/run-tests.sh starts and exports), the agent also follows
# notifications: it stays in this namespace's sockets' host side (--netns moves only its netlink socket), so the
# broker on 127.0.0.1 is reachable, and every metric of the events group must then exist too.
events=()
curl_ns=(ip netns exec "$ns")
port=9100
if [ -n "${MRA_RABBITMQ_URL:-}" ]; then
    printf '%s\n' "${MRA_RABBITMQ_PASSWORD:-guest}" > "$work/broker-password"
    port=$((20000 + RANDOM % 20000))
    events=(--netns "$ns" --events-url "$MRA_RABBITMQ_URL" --events-password-file "$work/broker-password"
            --events-exchange "mra-rules-$$" --events-queue "mra-rules-$$")
    curl_ns=()
    MRA_RULES_REQUIRE_ALL=${MRA_RULES_REQUIRE_ALL:-1}
fi

echo "--- the agent in namespace $ns${events:+ (following notifications on $MRA_RABBITMQ_URL)}"
if [ ${#events[@]} -gt 0 ]; then
    "$bin" run --snapshot examples/demo-snapshot.json --metrics-address "127.0.0.1:$port" "${events[@]}" \
        --log-level warning > "$work/agent.log" 2>&1 &
else
    ip netns exec "$ns" "$bin" run --snapshot examples/demo-snapshot.json --metrics-address 127.0.0.1:$port \
        --log-level warning > "$work/agent.log" 2>&1 &
fi
pid=$!
ready=""
for _ in $(seq 1 100); do
    if "${curl_ns[@]}" curl -sf -m 2 "http://127.0.0.1:$port/readyz" > /dev/null 2>&1; then ready=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
done
[ -n "$ready" ] || { echo "FAIL: the agent did not become ready"; cat "$work/agent.log"; exit 1; }
# The broker state is reported once the first connection attempt ends (here: the exchange does not exist).
for _ in $(seq 1 50); do
    "${curl_ns[@]}" curl -sf -m 5 "http://127.0.0.1:$port/metrics" > "$work/metrics.txt"
    [ ${#events[@]} -eq 0 ] || grep -q '^mra_events_broker_connected' "$work/metrics.txt" && break
    sleep 0.2
done


python3 - "$rules" "$tests" "$work/metrics.txt" "${MRA_RULES_REQUIRE_ALL:-0}" <<'EOF'
import re, sys
rules_path, tests_path, metrics_path, require_all = sys.argv[1:5]

# Metric names in each group's expressions (the rules file is plain YAML: "- name:" starts a group).
groups, current, in_expr, expr_indent = {}, None, False, 0
for line in open(rules_path):
    m = re.match(r"\s*- name:\s*(\S+)", line)
    if m:
        current = m.group(1); groups[current] = set(); in_expr = False; continue
    indent = len(line) - len(line.lstrip())
    m = re.match(r"(\s*)expr:(.*)", line)
    if m:
        in_expr, expr_indent, text = True, len(m.group(1)), m.group(2)
    elif in_expr and line.strip() and indent > expr_indent:
        text = line
    else:
        in_expr = False; continue
    groups[current].update(re.findall(r"\bmra_[a-z0-9_]+", text))

# The exposition: names, types and label names.
types, labels = {}, {}
for line in open(metrics_path):
    m = re.match(r"# TYPE (\S+) (\S+)", line)
    if m: types[m.group(1)] = m.group(2); continue
    m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s", line)
    if m:
        keys = set(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
        labels.setdefault(m.group(1), set()).update(keys)

def exposed(name):
    if name in labels: return True
    base = re.sub(r"_(bucket|sum|count)$", "", name)
    return base != name and types.get(base) == "histogram" and name in labels

failed = False
for group, names in groups.items():
    core = group == "metadata-route-agent"
    for name in sorted(names):
        if exposed(name):
            print(f"ok: {name} ({group})")
        elif core or require_all == "1":
            print(f"FAIL: {name} is used by the rules ({group}) but the agent does not expose it"); failed = True
        else:
            print(f"pending: {name} ({group}): exposed only with --events-url (no broker configured for this run)")

# The promtool tests feed the core metrics with the agent's own label names.
core_names = groups.get("metadata-route-agent", set())
for m in re.finditer(r"series: '([a-z0-9_]+)\{([^}]*)\}'", open(tests_path).read()):
    name, keys = m.group(1), set(re.findall(r"([a-zA-Z_]+)=", m.group(2))) - {"job", "instance"}
    if name in core_names and exposed(name):
        extra = keys - labels.get(name, set())
        if extra:
            print(f"FAIL: the rule tests give {name} labels {sorted(extra)} the agent does not use"); failed = True
if not core_names:
    print("FAIL: no metric found in the core rule group"); failed = True
sys.exit(1 if failed else 0)
EOF
echo "PASS: every metric the core alert rules use exists on a running agent"
