#!/usr/bin/env bash
# The agent's command line for real, as root, inside a network namespace this test creates and always
# deletes: plan changes nothing, sync, a second sync that writes nothing, routes, cleanup that touches
# nothing foreign, exit codes, least privilege (only CAP_NET_ADMIN), and the daemon restoring a route
# deleted with `ip route del` within a second, with /metrics scraped.
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN=${MRA_BIN:-$PWD/.build/debug/metadata-route-agent}
NS="mra-cli-$$"
WORK=$(mktemp -d /tmp/mra-cli.XXXXXX)
PIDS=()
pass=0
fail=0

cleanup() {
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
inns() { ip netns exec "$NS" "$@"; }
agent() { inns "$BIN" "$@"; }
table() { inns ip route show table main; inns ip -6 route show table main; }

[ -x "$BIN" ] || { echo "build the agent first (make build)"; exit 1; }

# --- a host on the external network 203.0.113.0/24 + 2001:db8:100::/64 -----------------------------
ip netns add "$NS"
inns ip link set lo up
# A veth pair stands for the external link (this kernel may lack the dummy driver); its peer stays up
# inside the namespace so the link has carrier.
inns ip link add eth0 type veth peer name eth0-peer
inns ip link set eth0-peer up
inns ip link set eth0 up
inns ip addr add 203.0.113.2/24 dev eth0
inns ip addr add 2001:db8:100::2/64 dev eth0 nodad
inns ip route add default via 203.0.113.1
# The operator's own routes: one elsewhere, one that a tenant subnet would fall inside.
inns ip route add 198.51.100.0/24 via 203.0.113.1 proto static
inns ip route add 10.5.0.0/16 via 203.0.113.1 proto static

cp tests/clouds/agent-cli.json "$WORK/cloud.json"
SNAP=(--snapshot "$WORK/cloud.json")

# --- plan changes nothing ---------------------------------------------------------------------------
before=$(table)
agent plan "${SNAP[@]}" > "$WORK/plan.txt"
check "plan lists the three tenant routes as adds" grep -q "3 to add" "$WORK/plan.txt"
check "plan changes nothing in the kernel" test "$before" == "$(table)"
agent plan "${SNAP[@]}" --format json > "$WORK/plan.json"
check "plan json refuses 0.0.0.0/1, the operator's 10.5.1.0/24 and the external 203.0.113.128/25" python3 - "$WORK/plan.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
refused = {r["destination"]: r["reason"] for r in d["refused"] if r.get("destination")}
adds = sorted(a["destination"] for a in d["add"])
assert adds == ["10.0.0.0/24", "10.1.0.0/24", "fd00:10::/64"], adds
for dst in ("0.0.0.0/1", "10.5.1.0/24", "203.0.113.128/25"):
    assert dst in refused, (dst, refused)
assert all(r["message"] for r in d["refused"])
PY

# --- sync, then a second sync that writes nothing ---------------------------------------------------
set +e; agent sync "${SNAP[@]}" > "$WORK/sync1.txt" 2> "$WORK/sync1.log"; rc=$?; set -e
check "sync exits 0" test "$rc" -eq 0
check "the kernel has 10.0.0.0/24 via 203.0.113.10 proto 200" bash -c "ip -n $NS route show 10.0.0.0/24 proto 200 | grep -q 'nhid'"
check "IPv6 fd00:10::/64 is routed via 2001:db8:100::10" bash -c "ip -n $NS -6 route get fd00:10::5 | grep -q 'via 2001:db8:100::10'"
check "10.1.0.0/24 goes via 203.0.113.11" bash -c "ip -n $NS route get 10.1.0.9 | grep -q 'via 203.0.113.11'"
check "no route for the refused 0.0.0.0/1" bash -c "! ip -n $NS route show proto 200 | grep -q '0.0.0.0/1'"
check "the operator's 10.5.0.0/16 still owns 10.5.1.0/24" bash -c "ip -n $NS route get 10.5.1.9 | grep -q 'via 203.0.113.1 '"
check "each change is one log line" bash -c "[ \$(grep -c 'msg=\"route added\"' $WORK/sync1.log) -eq 3 ]"
# Started with ip netns exec directly (not through a function) so that $! is the process itself.
ip netns exec "$NS" ip monitor route nexthop > "$WORK/monitor.txt" 2>/dev/null &
PIDS+=($!)
sleep 0.3
agent sync "${SNAP[@]}" > "$WORK/sync2.txt" 2>/dev/null
sleep 0.3
kill "${PIDS[-1]}" 2>/dev/null || true
# The kernel's own events (link-local addresses finishing DAD on the veth) are not writes of the agent's.
grep -v "proto kernel" "$WORK/monitor.txt" > "$WORK/monitor.agent.txt" || true
mv "$WORK/monitor.agent.txt" "$WORK/monitor.txt"
check "a second sync reports no change" grep -q "0 added, 0 replaced, 0 deleted" "$WORK/sync2.txt"
check "a second sync writes nothing to the kernel (no route or nexthop events)" test ! -s "$WORK/monitor.txt"
[ -s "$WORK/monitor.txt" ] && sed 's/^/      event: /' "$WORK/monitor.txt"

# --- routes -------------------------------------------------------------------------------------------
agent routes --format json > "$WORK/routes.json"
check "routes lists the three owned routes with their next hops" python3 - "$WORK/routes.json" <<'PY'
import json, sys
r = {x["destination"]: x["next_hop"] for x in json.load(open(sys.argv[1]))}
assert r == {"10.0.0.0/24": "203.0.113.10", "10.1.0.0/24": "203.0.113.11", "fd00:10::/64": "2001:db8:100::10"}, r
PY

# --- exit codes: fail static on a broken read, usage errors -------------------------------------------
cp "$WORK/cloud.json" "$WORK/good.json"
echo '<html>502 Bad Gateway</html>' > "$WORK/cloud.json"
before=$(table)
set +e; agent sync "${SNAP[@]}" >/dev/null 2> "$WORK/err.txt"; rc=$?; set -e
check "an unreadable snapshot exits 2" test "$rc" -eq 2
check "and says nothing was changed" grep -q "nothing was changed" "$WORK/err.txt"
check "and leaves the kernel as it was" test "$before" == "$(table)"
cp "$WORK/good.json" "$WORK/cloud.json"
set +e; agent sync --no-such-flag >/dev/null 2>&1; rc=$?; set -e
check "an unknown flag exits 64" test "$rc" -eq 64
echo "tabel: 200" > "$WORK/bad.yaml"
set +e; agent sync "${SNAP[@]}" --config "$WORK/bad.yaml" 2> "$WORK/err.txt"; rc=$?; set -e
check "an unknown config key exits 64 and names the key" bash -c "[ $rc -eq 64 ] && grep -q \"unknown key 'tabel'\" $WORK/err.txt"

# --- least privilege: an unprivileged user with only CAP_NET_ADMIN ------------------------------------
install -m 0755 "$BIN" "$WORK/agent"
chmod 0755 "$WORK"; chmod 0644 "$WORK/cloud.json"
inns ip route del 10.1.0.0/24 proto 200
set +e
inns setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=+net_admin --ambient-caps=+net_admin \
    "$WORK/agent" sync "${SNAP[@]}" > /dev/null 2> "$WORK/priv.txt"; rc=$?
set -e
check "sync as nobody with only CAP_NET_ADMIN works" test "$rc" -eq 0
check "and restored the missing route" bash -c "ip -n $NS route show proto 200 | grep -q '^10.1.0.0/24'"
inns ip route del 10.1.0.0/24 proto 200
set +e
inns setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
    "$WORK/agent" sync "${SNAP[@]}" > /dev/null 2> "$WORK/nopriv.txt"; rc=$?
set -e
check "sync without CAP_NET_ADMIN fails" test "$rc" -ne 0
check "with a sentence naming CAP_NET_ADMIN" grep -q "CAP_NET_ADMIN" "$WORK/nopriv.txt"
check "and without a stack trace" bash -c "[ \$(wc -l < $WORK/nopriv.txt) -le 1 ]"

# --- the daemon: self-healing within a second, metrics, SIGTERM ---------------------------------------
PORT=$((20000 + $$ % 20000))
ip netns exec "$NS" "$BIN" run "${SNAP[@]}" --interval 30 --metrics-address "127.0.0.1:$PORT" 2> "$WORK/daemon.log" &
DPID=$!; PIDS+=($DPID)
for _ in $(seq 100); do ip -n "$NS" route show proto 200 | grep -q '^10.1.0.0/24' && break; sleep 0.05; done
check "the daemon's first reconcile restores 10.1.0.0/24" bash -c "ip -n $NS route show proto 200 | grep -q '^10.1.0.0/24'"
sleep 0.3
inns ip route del 10.0.0.0/24 proto 200
start=$(date +%s%N)
healed=""
while [ $(( ($(date +%s%N) - start) / 1000000 )) -lt 3000 ]; do
    if ip -n "$NS" route show proto 200 | grep -q '^10.0.0.0/24'; then healed=$(( ($(date +%s%N) - start) / 1000000 )); break; fi
    sleep 0.01
done
echo "      route deleted with 'ip route del' restored after ${healed:-never} ms"
check "a route deleted behind the daemon's back is restored within a second" bash -c "[ -n '$healed' ] && [ '$healed' -lt 1000 ]"
inns curl -s -m 5 "http://127.0.0.1:$PORT/metrics" > "$WORK/metrics.txt" || true
check "/metrics reports 3 desired routes" grep -qE "^mra_routes_desired 3(\.0)?$" "$WORK/metrics.txt"
check "/metrics counts the self-heal" bash -c "grep -q '^mra_self_heal_total [1-9]' $WORK/metrics.txt"
check "/metrics has the refusal reasons" grep -q '^mra_routes_refused{reason=' "$WORK/metrics.txt"
check "/readyz is 200 after a successful sync" bash -c "[ \$(ip netns exec $NS curl -s -m 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:$PORT/readyz) = 200 ]"
kill -TERM "$DPID"
set +e; timeout 10 tail --pid="$DPID" -f /dev/null; wait "$DPID"; rc=$?; set -e
check "SIGTERM ends the daemon with exit 0" test "$rc" -eq 0
check "and leaves the routes in place" bash -c "[ \$(ip -n $NS route show proto 200 | wc -l) -eq 2 ]"

# --- cleanup: every owned route and nexthop, nothing else ----------------------------------------------
agent cleanup > "$WORK/cleanup.txt"
check "cleanup removes every owned route" bash -c "[ -z \"\$(ip -n $NS route show proto 200; ip -n $NS -6 route show proto 200)\" ]"
check "cleanup removes every owned nexthop" bash -c "[ -z \"\$(ip -n $NS nexthop show proto 200 2>/dev/null)\" ]"
check "cleanup keeps the operator's routes" bash -c "ip -n $NS route show proto static | grep -q 198.51.100.0/24 && ip -n $NS route show proto static | grep -q 10.5.0.0/16 && ip -n $NS route show default | grep -q 203.0.113.1"

echo
echo "agent-cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
