#!/usr/bin/env bash
# End-to-end test: the 2013 metadata failure and its fix, for real, in network namespaces.
#
# An instance on a private tenant subnet asks 169.254.169.254 for its SSH key. Its router DNATs the
# request to the metadata host but keeps the private source address; the metadata host's default
# route leads elsewhere, so the reply never comes back and the request times out. metadata-route-agent,
# run on the metadata host against a Neutron describing the topology, adds "10.0.0.0/24 via
# 203.0.113.10 proto 200" and the request succeeds. The test then checks refusals of hostile subnets,
# IPv6 (no NAT), that a removed router interface removes the route, that the daemon (`run`) follows
# Neutron by itself, that `cleanup` removes only the agent's routes, and that a foreign route is never
# touched. Topology and helpers: scripts/lib/netns.sh.
#
# Usage: tests/e2e/metadata-scenario.sh [--agent PATH] [--standin PATH] [--neutron api|file] [--agent-arg ARG]...
#   --agent PATH      the agent binary (default: $MRA_AGENT, else .build/debug/metadata-route-agent,
#                     built with `swift build` when missing)
#   --standin PATH    the Neutron stand-in (default: $MRA_STANDIN, else .build/debug/neutron-standin,
#                     built with `swift build` when missing)
#   --neutron api     (default) the agent reads the Neutron stand-in (neutron-standin --snapshot FILE on
#                     the metadata host's loopback, OS_AUTH_TYPE=none), which serves the snapshot file
#   --neutron file    the agent reads the snapshot file itself (--snapshot FILE)
#   --agent-arg ARG   pass ARG to every agent command (e.g. --agent-arg --nexthop-mode=classic)
# Either way "Neutron changes" are made by replacing the snapshot file with a cloud of tests/clouds.
# Needs root. Without root it skips, unless CI is set: then a missing privilege is a failure.
# Output: one PASS/FAIL line per assertion, then "N passed, N failed"; exit 1 on any failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=scripts/lib/netns.sh
source "$ROOT/scripts/lib/netns.sh"
# shellcheck source=tests/e2e/lib/assert.sh
source "$HERE/lib/assert.sh"

AGENT=${MRA_AGENT:-}
STANDIN=${MRA_STANDIN:-}
NEUTRON=${MRA_E2E_NEUTRON:-api}
NEUTRON_PORT=9696
AGENT_ARGS=()
while (($#)); do
    case $1 in
        --agent) AGENT=$2; shift 2 ;;
        --standin) STANDIN=$2; shift 2 ;;
        --neutron) NEUTRON=$2; shift 2 ;;
        --agent-arg) AGENT_ARGS+=("$2"); shift 2 ;;
        *) echo "usage: $0 [--agent PATH] [--standin PATH] [--neutron api|file] [--agent-arg ARG]..." >&2; exit 64 ;;
    esac
done

if ! mra_is_root; then
    if [[ -n ${CI:-} ]]; then
        echo "FAIL  metadata scenario needs root (CI is set, so this is a failure, not a skip)"
        echo "0 passed, 1 failed"
        exit 1
    fi
    echo "SKIP  metadata scenario needs root (network namespaces); run it with sudo"
    exit 0
fi
for tool in ip nft curl "$MRA_PYTHON"; do
    command -v "$tool" >/dev/null || { echo "missing tool: $tool (run scripts/setup-deps.sh)" >&2; exit 1; }
done

# binary VAR PRODUCT: the path in VAR, else .build/debug/PRODUCT, built when missing.
binary() {
    local -n path=$1
    if [[ -z $path ]]; then
        path="$ROOT/.build/debug/$2"
        if [[ ! -x $path ]]; then
            echo "building $2 (swift build --product $2) ..."
            (cd "$ROOT" && swift build --product "$2")
        fi
    fi
    [[ -x $path ]] || { echo "$2 binary not found: $path" >&2; exit 1; }
}
binary AGENT metadata-route-agent
[[ $NEUTRON == api ]] && binary STANDIN neutron-standin
echo "agent: $AGENT ${AGENT_ARGS[*]}, Neutron: $NEUTRON${STANDIN:+ ($STANDIN)}"

mra_init e2e
SNAPSHOT="$MRA_TMP/neutron-snapshot.json"
# When the script stops before its end (a setup step failed, or it was interrupted), still say so as
# a failure and print the counts, then clean up as mra_init's trap would.
FINISHED=0
on_exit() {
    local rc=$?
    if ((FINISHED == 0)); then
        fail "the scenario runs to its end" "it stopped early (exit status $rc; see the messages above)"
        e2e_summary || true
    fi
    mra_cleanup
    if ((FINISHED == 0 && rc == 0)); then exit 1; fi
}
trap on_exit EXIT

# agent SUBCOMMAND [ARGS...]: run the agent on the metadata host against "Neutron" (the stand-in or
# the snapshot file). Output goes to stdout; the exit status is the agent's.
agent() {
    local sub=$1; shift
    agent_command "$sub" "$@"
    "${AGENT_CMD[@]}"
}

# agent_command SUBCOMMAND [ARGS...]: sets AGENT_CMD to the command line that runs the agent on the
# metadata host against "Neutron" (used as is by `agent`, and in the background for `run`).
agent_command() {
    local sub=$1; shift
    if [[ $NEUTRON == file ]]; then
        AGENT_CMD=(ip netns exec "$NS_META" "$AGENT" "$sub" --snapshot "$SNAPSHOT" "${AGENT_ARGS[@]}" "$@")
    else
        # No Keystone: talk to the stand-in directly; no OS_* setting of the caller leaks in.
        local unset_os=() var
        for var in $(compgen -e); do [[ $var == OS_* ]] && unset_os+=(-u "$var"); done
        AGENT_CMD=(ip netns exec "$NS_META" env "${unset_os[@]}" OS_AUTH_TYPE=none
            OS_NETWORK_ENDPOINT_OVERRIDE="http://127.0.0.1:$NEUTRON_PORT" "$AGENT" "$sub" "${AGENT_ARGS[@]}" "$@")
    fi
}

# neutron_requests: how many Neutron requests the stand-in has answered so far (its control endpoint).
neutron_requests() {
    in_ns "$NS_META" curl -sf -m 3 "http://127.0.0.1:$NEUTRON_PORT/_control/stats" |
        "$MRA_PYTHON" -c 'import json, sys; print(json.load(sys.stdin)["requests"])'
}

# show TEXT: echo a command's output indented under the assertions (nothing when empty).
show() {
    [[ -n $1 ]] && printf '%s\n' "$1" | sed 's/^/      | /'
    return 0
}

# The agent may use nexthop objects ("10.0.0.0/24 nhid 7 via 203.0.113.10 ...") or classic routes
# ("10.0.0.0/24 via 203.0.113.10 ..."): the checks below read both alike by dropping "nhid N ".
drop_nhid() { sed -E 's/ nhid [0-9]+//'; }

# owned_routes [4|6]: the routes with the agent's protocol number on the metadata host (v4 then v6).
owned_routes() {
    local family
    for family in ${1:-4 6}; do
        in_ns "$NS_META" ip "-$family" route show table main proto "$MRA_PROTO" | drop_nhid
    done
}

# owned_nexthops: nexthop objects with the agent's protocol number (none when it uses classic routes).
owned_nexthops() {
    in_ns "$NS_META" ip nexthop show protocol "$MRA_PROTO" 2>/dev/null || true
}

# route_of PREFIX: the metadata host's route(s) for exactly PREFIX, any protocol.
route_of() {
    in_ns "$NS_META" ip route show table main exact "$1" | drop_nhid
}

# has_owned_route PREFIX NEXTHOP / has_no_route PREFIX: predicates for wait_for (evaluated anew each poll).
has_owned_route() {
    # (not `owned_routes | grep -q`: with pipefail, grep's early exit would fail the pipeline)
    grep -qF "$1 via $2 " <<<"$(owned_routes)"
}
has_no_route() {
    [[ -z $(route_of "$1") ]]
}

# plan_lines: reads `plan --format json` on stdin and prints one line per entry, for exact matching:
#   add|replace|delete DESTINATION [via NEXTHOP]   (a delete of a nexthop-object route may name none)
#   refused DESTINATION [REASON]              (+ " lost-to SUBNET" when it lost an overlap)
plan_lines() {
    "$MRA_PYTHON" -c '
import json, sys
doc = json.load(sys.stdin)
for action in ("add", "replace", "delete"):
    for e in doc[action]:
        via = " via %s" % e["next_hop"] if e.get("next_hop") else ""
        print(action + " " + e["destination"] + via)
for r in doc["refused"]:
    line = "refused %s [%s]" % (r.get("destination"), r["reason"])
    if r.get("lost_to_subnet"):
        line += " lost-to " + r["lost_to_subnet"]
    print(line)
'
}

# --------------------------------------------------------------------------------------------
echo "== setting up namespaces $NS_INST, $NS_RTR, $NS_META"
mra_topology_create
mra_metadata_server_start
mra_instance_server_start
mra_write_snapshot "$SNAPSHOT" yes yes
if [[ $NEUTRON == api ]]; then
    mra_bg "$NS_META" "$MRA_TMP/neutron-standin.log" "$STANDIN" --snapshot "$SNAPSHOT" --port "$NEUTRON_PORT"
    wait_for 10 "Neutron stand-in on port $NEUTRON_PORT" \
        in_ns "$NS_META" curl -sf -m 1 "http://127.0.0.1:$NEUTRON_PORT/v2.0/routers"
fi

# A route the operator owns: the agent must never touch it.
FOREIGN=198.51.100.0/24
in_ns "$NS_META" ip route add "$FOREIGN" via "$MRA_UPSTREAM_V4" proto static
FOREIGN_ROUTE=$(route_of "$FOREIGN")
foreign_untouched() {
    expect_eq "foreign route $FOREIGN untouched ($1)" "$FOREIGN_ROUTE" "$(route_of "$FOREIGN")"
}

# The bundled demo snapshot (used by `make demo` without root) must describe this same cloud.
expect_success "examples/demo-snapshot.json matches the scenario's snapshot" \
    "$MRA_PYTHON" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' \
    "$ROOT/examples/demo-snapshot.json" "$SNAPSHOT"

echo "== before the agent"
# Control: the path itself works. A request to the metadata host's own address is SNATed to the
# router's gateway address, which the host can answer: only the DNAT-without-SNAT path lacks a way back.
expect_success "control: instance reaches the metadata host directly (SNAT path)" \
    in_ns "$NS_INST" curl -sf -m 3 "http://$MRA_META_V4/$MRA_KEY_PATH"
expect_failure "instance's request to $MRA_METADATA_IP fails: no route back to $MRA_TENANT_V4_CIDR" \
    instance_fetch_key
expect_failure "metadata host cannot reach the instance over IPv6 ($MRA_INSTANCE_V6)" \
    meta_fetch_instance_v6
expect_empty "no owned (proto $MRA_PROTO) routes yet" "$(owned_routes)"

echo "== plan"
before=$(meta_routes)
rc=0
plan_text=$(agent plan 2>&1) || rc=$?
show "$plan_text"
expect_eq "plan exits 0" 0 "$rc"
rc=0
plan_json=$(agent plan --format json 2>"$MRA_TMP/plan.err") || rc=$?
expect_eq "plan --format json exits 0" 0 "$rc"
plan=$(plan_lines <<<"$plan_json" 2>&1 || true)
expect_line "plan adds $MRA_TENANT_V4_CIDR via $MRA_ROUTER_GW_V4" "add $(re "$MRA_TENANT_V4_CIDR via $MRA_ROUTER_GW_V4")" "$plan"
expect_line "plan adds $MRA_TENANT_V6_CIDR via $MRA_ROUTER_GW_V6" "add $(re "$MRA_TENANT_V6_CIDR via $MRA_ROUTER_GW_V6")" "$plan"
expect_eq "plan has exactly two changes" 2 "$(grep -cE '^(add|replace|delete) ' <<<"$plan" || true)"
for hostile in 0.0.0.0/1 203.0.113.0/25 10.0.0.0/8; do
    expect_line "plan refuses hostile $hostile with a reason" "refused $(re "$hostile") \\[[A-Za-z0-9_-]+\\].*" "$plan"
done
expect_line "plan refuses the hostile copy of $MRA_TENANT_V4_CIDR: it lost to tenant-a's older subnet" \
    "refused $(re "$MRA_TENANT_V4_CIDR") \\[[A-Za-z0-9_-]+\\] lost-to tenant-a-v4" "$plan"
expect_eq "plan changes nothing in the kernel" "$before" "$(meta_routes)"
expect_failure "after plan, the instance's request still fails" instance_fetch_key

echo "== sync"
requests_before=0
[[ $NEUTRON == api ]] && requests_before=$(neutron_requests)
rc=0
sync_out=$(agent sync 2>&1) || rc=$?
show "$sync_out"
expect_eq "sync exits 0" 0 "$rc"
if [[ $NEUTRON == api ]]; then
    n=$(neutron_requests)
    if ((n > requests_before)); then pass "sync read Neutron's API ($((n - requests_before)) requests)"
    else fail "sync read Neutron's API" "the stand-in saw no request"; fi
fi
expect_eq "instance reads its exact key through $MRA_METADATA_IP" "$MRA_TEST_KEY" "$(instance_fetch_key || true)"
expect_contains "route $MRA_TENANT_V4_CIDR via $MRA_ROUTER_GW_V4 has proto $MRA_PROTO" \
    "$MRA_TENANT_V4_CIDR via $MRA_ROUTER_GW_V4" "$(owned_routes 4)"
expect_contains "route $MRA_TENANT_V6_CIDR via $MRA_ROUTER_GW_V6 has proto $MRA_PROTO" \
    "$MRA_TENANT_V6_CIDR via $MRA_ROUTER_GW_V6" "$(owned_routes 6)"
expect_eq "metadata host reaches the instance over IPv6 (no NAT)" "hello from the instance" \
    "$(meta_fetch_instance_v6 || true)"
# The hostile router's subnets: refused, so absent from the kernel; the copy of 10.0.0.0/24 does not
# take over tenant-a's route.
expect_empty "hostile 0.0.0.0/1 is not in the kernel" "$(route_of 0.0.0.0/1)"
expect_empty "hostile 203.0.113.0/25 (inside the external network) is not in the kernel" "$(route_of 203.0.113.0/25)"
expect_empty "hostile 10.0.0.0/8 (shorter than /16) is not in the kernel" "$(route_of 10.0.0.0/8)"
expect_eq "hostile copy of $MRA_TENANT_V4_CIDR did not take over: one route, via $MRA_ROUTER_GW_V4" \
    "1 via $MRA_ROUTER_GW_V4" \
    "$(route_of "$MRA_TENANT_V4_CIDR" | wc -l) $(route_of "$MRA_TENANT_V4_CIDR" | grep -o "via [0-9.]*" || true)"
expect_eq "exactly two owned routes" 2 "$(owned_routes | wc -l)"
foreign_untouched "after sync"

routes_out=$(agent routes 2>&1) || true
show "$routes_out"
expect_contains "routes lists $MRA_TENANT_V4_CIDR" "$MRA_TENANT_V4_CIDR" "$routes_out"
expect_contains "routes lists $MRA_TENANT_V6_CIDR" "$MRA_TENANT_V6_CIDR" "$routes_out"

echo "== sync again (nothing to do)"
owned_before=$(owned_routes)
rc=0
agent sync >/dev/null 2>&1 || rc=$?
expect_eq "second sync exits 0" 0 "$rc"
expect_eq "second sync leaves the owned routes as they were" "$owned_before" "$(owned_routes)"

if [[ $NEUTRON == api ]]; then
    echo "== Neutron fails (the stand-in answers 503 to every request): fail static"
    in_ns "$NS_META" curl -sf -m 3 -X POST \
        "http://127.0.0.1:$NEUTRON_PORT/_control/fault?path=/v2.0/&count=1000&status=503" >/dev/null
    rc=0
    sync_out=$(agent sync 2>&1) || rc=$?
    if ((rc != 0)); then pass "sync fails when Neutron answers 503 (exit $rc)"
    else fail "sync fails when Neutron answers 503" "it exited 0: $(head -c 300 <<<"$sync_out")"; fi
    expect_eq "a failed read leaves the owned routes as they were" "$owned_before" "$(owned_routes)"
    in_ns "$NS_META" curl -sf -m 3 -X POST "http://127.0.0.1:$NEUTRON_PORT/_control/reset" >/dev/null
fi

echo "== the router interface on $MRA_TENANT_V4_CIDR is removed in Neutron"
# The hostile router goes too: its later copy of 10.0.0.0/24 lost only while tenant-a's older subnet
# existed; alone, it is the one legitimate claim to that prefix and would get the route (via
# 203.0.113.20). Here nobody claims 10.0.0.0/24 any more, so the route must simply go.
mra_write_snapshot "$SNAPSHOT" no no
plan=$(agent plan --format json 2>/dev/null | plan_lines 2>&1 || true)
changes=$(grep -E '^(add|replace|delete) ' <<<"$plan" || true)
expect_line "plan deletes $MRA_TENANT_V4_CIDR" "delete $(re "$MRA_TENANT_V4_CIDR")( via $(re "$MRA_ROUTER_GW_V4"))?" "$changes"
expect_eq "plan changes nothing else" 1 "$(grep -c . <<<"$changes" || true)"
rc=0
sync_out=$(agent sync 2>&1) || rc=$?
show "$sync_out"
expect_eq "sync exits 0" 0 "$rc"
expect_empty "route to $MRA_TENANT_V4_CIDR is gone" "$(route_of "$MRA_TENANT_V4_CIDR")"
expect_failure "the instance's request times out again" instance_fetch_key
expect_contains "IPv6 route (its interface still exists) stays" \
    "$MRA_TENANT_V6_CIDR via $MRA_ROUTER_GW_V6" "$(owned_routes 6)"
foreign_untouched "after the interface removal"

echo "== the daemon follows Neutron (run --interval 1)"
# `run` reconciles on its own: a router interface added or removed in Neutron shows up in the
# kernel within an interval, with no sync by hand. SIGTERM stops it and leaves the routes.
agent_command run --interval 1 --log-level warning
"${AGENT_CMD[@]}" >"$MRA_TMP/daemon.log" 2>&1 &
DAEMON_PID=$!
MRA_PIDS+=("$DAEMON_PID")
mra_write_snapshot "$SNAPSHOT" yes no      # the interface comes back
if wait_for 10 "the daemon to add $MRA_TENANT_V4_CIDR" has_owned_route "$MRA_TENANT_V4_CIDR" "$MRA_ROUTER_GW_V4"; then
    pass "the daemon adds $MRA_TENANT_V4_CIDR when its interface reappears in Neutron"
else
    fail "the daemon adds $MRA_TENANT_V4_CIDR when its interface reappears in Neutron" "no route after 10 s; log: $(tail -c 300 "$MRA_TMP/daemon.log")"
fi
expect_eq "the instance reads its key again" "$MRA_TEST_KEY" "$(instance_fetch_key || true)"
mra_write_snapshot "$SNAPSHOT" no no       # and goes again
if wait_for 10 "the daemon to delete $MRA_TENANT_V4_CIDR" has_no_route "$MRA_TENANT_V4_CIDR"; then
    pass "the daemon deletes $MRA_TENANT_V4_CIDR when its interface is removed in Neutron"
else
    fail "the daemon deletes $MRA_TENANT_V4_CIDR when its interface is removed in Neutron" "still there after 10 s"
fi
expect_success "the daemon is still running" kill -0 "$DAEMON_PID"
kill -TERM "$DAEMON_PID" 2>/dev/null || true
rc=0
wait "$DAEMON_PID" || rc=$?
expect_eq "the daemon exits 0 on SIGTERM" 0 "$rc"
expect_contains "and leaves its routes in place" "$MRA_TENANT_V6_CIDR via $MRA_ROUTER_GW_V6" "$(owned_routes 6)"
foreign_untouched "after the daemon"

echo "== cleanup"
rc=0
agent cleanup >/dev/null 2>&1 || rc=$?
expect_eq "cleanup exits 0" 0 "$rc"
expect_empty "no owned routes after cleanup" "$(owned_routes)"
expect_empty "no owned nexthop objects after cleanup" "$(owned_nexthops)"
foreign_untouched "after cleanup"
expect_contains "the host's own routes survive cleanup" "default via $MRA_UPSTREAM_V4" "$(meta_routes)"

FINISHED=1
e2e_summary
