#!/usr/bin/env bash
# The agent's command line against a REAL Keystone 30 and neutron-server 29 (scripts/openstack-lab),
# writing routes into a network namespace this test creates and deletes (--netns: the agent talks to
# the lab on 127.0.0.1 from the root namespace and to the kernel inside the namespace).
# Needs: root, MRA_LAB_ENV=<path of the running lab's lab.env> (scripts/run-tests.sh sets it).
set -euo pipefail
cd "$(dirname "$0")/../.."

BIN=${MRA_BIN:-$PWD/.build/debug/metadata-route-agent}

TOPO="$(dirname "$MRA_LAB_ENV")/topology.json"
NS="mra-real-$$"
WORK=$(mktemp -d /tmp/mra-real.XXXXXX)
cleanup() { ip netns del "$NS" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
# shellcheck source=tests/e2e/lib/assert.sh
source tests/e2e/lib/assert.sh

# The lab's credentials (password auth) for the agent.
set -a
# shellcheck disable=SC1090
. "$MRA_LAB_ENV"
set +a

# A host on the lab's external network (addresses at the top of the range, away from Neutron's allocations).
ip netns add "$NS"
ip -n "$NS" link set lo up
ip -n "$NS" link add eth0 type veth peer name eth0-peer
ip -n "$NS" link set eth0-peer up
ip -n "$NS" link set eth0 up
ip -n "$NS" addr add 203.0.113.250/24 dev eth0
ip -n "$NS" addr add 2001:db8:100::fffe/64 dev eth0 nodad

agent() { "$BIN" "$@" --netns "$NS"; }

# --- plan against the real Neutron ----------------------------------------------------------------------
agent plan --format json > "$WORK/plan.json" 2> "$WORK/plan.log"
check "plan (password auth) adds every expected route and refuses the hostile subnet" python3 - "$WORK/plan.json" "$TOPO" <<'PY'
import json, sys
plan, topo = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
adds = {(a["destination"], a["next_hop"]) for a in plan["add"]}
want = {(r["destination"], r["via"]) for r in topo["expected_routes"]}
assert adds == want, (adds, want)
refused = {r["destination"] for r in plan["refused"] if r.get("destination")}
for r in topo["expected_refused"]:
    assert r["destination"] in refused, (r, refused)
PY

# --- sync, then the kernel ---------------------------------------------------------------------------------
agent sync 2> "$WORK/sync.log" > "$WORK/sync.txt"
check "sync against the real Neutron exits 0" grep -q "the kernel matches the plan" "$WORK/sync.txt"
check "the kernel holds exactly the expected routes" python3 - "$TOPO" "$NS" <<'PY'
import json, subprocess, sys
topo, ns = json.load(open(sys.argv[1])), sys.argv[2]
out = subprocess.run(["ip", "-n", ns, "-j", "route", "show", "proto", "200"], capture_output=True, text=True).stdout
out6 = subprocess.run(["ip", "-n", ns, "-6", "-j", "route", "show", "proto", "200"], capture_output=True, text=True).stdout
have = set()
for r in json.loads(out or "[]") + json.loads(out6 or "[]"):
    dst = r["dst"] if "/" in r["dst"] else r["dst"] + ("/128" if ":" in r["dst"] else "/32")
    gw = r.get("gateway")
    if gw is None and "nhid" in r:
        nh = json.loads(subprocess.run(["ip", "-n", ns, "-j", "nexthop", "show", "id", str(r["nhid"])], capture_output=True, text=True).stdout)
        gw = nh[0]["gateway"]
    have.add((dst, gw))
want = {(r["destination"], r["via"]) for r in topo["expected_routes"]}
assert have == want, (have, want)
PY
check "sync logged its Neutron request count" grep -q "neutron_requests=" "$WORK/sync.log"

# --- application credential ----------------------------------------------------------------------------------
(
    unset OS_USERNAME OS_PASSWORD OS_PROJECT_NAME OS_USER_DOMAIN_NAME OS_PROJECT_DOMAIN_NAME OS_PROJECT_ID
    export OS_AUTH_TYPE=v3applicationcredential
    export OS_APPLICATION_CREDENTIAL_ID="$MRA_LAB_APPCRED_ID" OS_APPLICATION_CREDENTIAL_SECRET="$MRA_LAB_APPCRED_SECRET"
    agent plan --format json > "$WORK/plan-appcred.json" 2> "$WORK/plan-appcred.log"
)
check "plan with an application credential sees the same cloud and has nothing left to do" python3 -c "
import json; d = json.load(open('$WORK/plan-appcred.json')); assert not d['add'] and not d['replace'] and not d['delete'], d"
check "no secret in the logs" bash -c "! grep -qF -- '$OS_PASSWORD' $WORK/*.log && ! grep -qF -- '$MRA_LAB_APPCRED_SECRET' $WORK/*.log"

# --- remove a router interface in Neutron: the next sync deletes its route ------------------------------------
removed=$(python3 - "$TOPO" <<'PY'
import json, os, sys, urllib.request
topo = json.load(open(sys.argv[1]))
def call(method, url, body=None, token=None):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    req.add_header("Content-Type", "application/json")
    if token: req.add_header("X-Auth-Token", token)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.headers, json.loads(r.read() or b"{}")
auth = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
    "name": os.environ["OS_USERNAME"], "domain": {"name": os.environ.get("OS_USER_DOMAIN_NAME", "Default")},
    "password": os.environ["OS_PASSWORD"]}}}, "scope": {"project": {"name": os.environ["OS_PROJECT_NAME"],
    "domain": {"name": os.environ.get("OS_PROJECT_DOMAIN_NAME", "Default")}}}}}
headers, doc = call("POST", os.environ["OS_AUTH_URL"].rstrip("/").removesuffix("/v3") + "/v3/auth/tokens", auth)
token = headers["X-Subject-Token"]
neutron = [e["url"] for s in doc["token"]["catalog"] if s["type"] == "network" for e in s["endpoints"] if e["interface"] == "public"][0]
route = next(r for r in topo["expected_routes"] if ":" not in r["destination"])
call("PUT", f"{neutron.rstrip('/')}/v2.0/routers/{route['router_id']}/remove_router_interface", {"subnet_id": route["subnet_id"]}, token)
print(route["destination"])
PY
)
agent sync > "$WORK/sync2.txt" 2> "$WORK/sync2.log"
check "after removing the interface of $removed in Neutron, sync deletes its route" bash -c "grep -q '1 deleted' $WORK/sync2.txt && ! ip -n $NS route show proto 200 | grep -q '^$removed '"
check "and keeps the others" bash -c "[ \$(ip -n $NS route show proto 200 | wc -l; ) -ge 1 ] || [ \$(ip -n $NS -6 route show proto 200 | wc -l) -ge 1 ]"

# --- Neutron unreachable: fail static --------------------------------------------------------------------------
before=$(ip -n "$NS" route show proto 200; ip -n "$NS" -6 route show proto 200)
set +e
OS_AUTH_URL=http://127.0.0.1:9/v3 agent sync --request-timeout 2 > /dev/null 2> "$WORK/down.log"; rc=$?
set -e
check "with Keystone unreachable, sync exits 2" test "$rc" -eq 2
check "and leaves every route in place" test "$before" == "$(ip -n "$NS" route show proto 200; ip -n "$NS" -6 route show proto 200)"

agent cleanup > /dev/null 2>&1
echo
printf 'real-cloud: '
summary
