#!/usr/bin/env bash
# Integration test: metadata-route-agent --table 200 + a BGP speaker on the agent host announce the
# tenant prefixes to an upstream FRR router with the tenant routers' gateway IPs as next hops.
#
# Topology (three network namespaces, created and always deleted by this script):
#
#   agent host ns                    segment ns (bridge br0)                 upstream ns
#   agent + BIRD (or FRR)            tenant router gateways:                 FRR zebra + bgpd
#   ext0 203.0.113.1/24    ──veth──  203.0.113.10, .11, .12        ──veth──  ext0 203.0.113.254/24
#        2001:db8:100::1/64          2001:db8:100::10, ::11, ::12             2001:db8:100::fe/64
#   AS 65001                                                                 AS 65000
#
# Run as root from the repository root after `swift build` (and scripts/setup-bgp-deps.sh):
#   tests/bgp/bgp-announce.sh
# Environment:
#   MRA_AGENT_BIN        agent binary (default .build/debug/metadata-route-agent)
#   MRA_BGP_SPEAKER      bird (default: BIRD 2 for IPv4 and IPv6, packaging/bird/bird-agent-table.conf)
#                        frr  (FRR for IPv4 only, packaging/frr/; the IPv6 assertions are then skipped
#                              and reported as such, because FRR 8.4 cannot announce an imported IPv6 table)
#   MRA_BGP_NEXTHOP_MODE agent --nexthop-mode values to run the whole scenario with, in fresh namespaces
#                        each time (default "objects classic": both forms of kernel route)
#   MRA_BGP_KEEP_LOGS    1: keep the temporary folder with configs and daemon logs
# Neutron, step by step: the snapshot files tests/clouds/bgp-{1-announce,2-r1-interface-removed,3-r2-gateway-moved}.json,
# given to the real agent binary (`metadata-route-agent sync --snapshot …`) inside the agent host namespace.
# Output: PASS/FAIL per assertion (tests/e2e/lib/assert.sh), then "N passed, N failed"; exit 1 on any failure,
# 77 when it cannot run (a failure instead when CI is set).

set -u -o pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/e2e/lib/assert.sh
source "$REPO/tests/e2e/lib/assert.sh"
AGENT_BIN=${MRA_AGENT_BIN:-$REPO/.build/debug/metadata-route-agent}
SPEAKER=${MRA_BGP_SPEAKER:-bird}
read -r -a NH_MODES <<<"${MRA_BGP_NEXTHOP_MODE:-objects classic}"
NH_MODE=""
TABLE=200
PROTO=200
ANNOUNCE_TIMEOUT=30   # seconds for the sessions to come up and the first announcement to arrive
WITHDRAW_TIMEOUT=10   # seconds: the stated bound for a withdrawal to reach the upstream kernel

HOST_NS="" SEG_NS="" UP_NS=""
NAMESPACES=()
WORK_ROOT=""
WORK=""
PIDFILES=()

log() { printf '# %s\n' "$*"; }

stop_daemons() {
    local f pid
    for f in "${PIDFILES[@]}"; do
        [[ -s "$f" ]] || continue
        pid=$(cat "$f" 2>/dev/null) || continue
        [[ "$pid" =~ ^[0-9]+$ ]] && kill "$pid" 2>/dev/null
    done
    sleep 0.3
    for f in "${PIDFILES[@]}"; do
        [[ -s "$f" ]] || continue
        pid=$(cat "$f" 2>/dev/null) || continue
        [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null
    done
    PIDFILES=()
    # Anything still running inside our namespaces was started by this script: stop it by pid.
    local ns
    for ns in "${NAMESPACES[@]}"; do
        if ip netns list | grep -qw "$ns"; then
            for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
            ip netns delete "$ns" 2>/dev/null
        fi
    done
    NAMESPACES=()
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_daemons
    if [[ -n "$WORK_ROOT" && -d "$WORK_ROOT" ]]; then
        if [[ "${MRA_BGP_KEEP_LOGS:-0}" == 1 ]]; then log "kept $WORK_ROOT"; else rm -rf "$WORK_ROOT"; fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- preconditions
[[ $(id -u) == 0 ]] || cannot_run "needs root (network namespaces, BGP port 179)"
command -v vtysh >/dev/null && [[ -x /usr/lib/frr/zebra && -x /usr/lib/frr/bgpd ]] \
    || cannot_run "FRR is not installed (run scripts/setup-bgp-deps.sh)"
case "$SPEAKER" in
    bird) command -v bird >/dev/null && command -v birdc >/dev/null \
              || cannot_run "BIRD 2 is not installed (run scripts/setup-bgp-deps.sh)" ;;
    frr) ;;
    *) echo "MRA_BGP_SPEAKER must be bird or frr"; exit 64 ;;
esac
[[ -x "$AGENT_BIN" ]] || cannot_run "agent binary $AGENT_BIN missing (swift build)"

WORK_ROOT=$(mktemp -d /tmp/mra-bgp.XXXXXX)
chmod 755 "$WORK_ROOT"

# ---------------------------------------------------------------- topology
setup_topology() {
    NAMESPACES+=("$HOST_NS" "$SEG_NS" "$UP_NS")
    ip netns add "$HOST_NS" && ip netns add "$SEG_NS" && ip netns add "$UP_NS" || return 1
    local ns
    for ns in "$HOST_NS" "$SEG_NS" "$UP_NS"; do
        ip -n "$ns" link set lo up || return 1
        ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 || return 1
    done
    ip -n "$SEG_NS" link add br0 type bridge || return 1
    ip -n "$SEG_NS" link add p-host type veth peer name ext0 netns "$HOST_NS" || return 1
    ip -n "$SEG_NS" link add p-up type veth peer name ext0 netns "$UP_NS" || return 1
    ip -n "$SEG_NS" link set p-host master br0 up && ip -n "$SEG_NS" link set p-up master br0 up || return 1
    ip -n "$SEG_NS" link set br0 up || return 1
    # The tenant routers' gateway addresses live on the segment and answer ARP / ND.
    ip -n "$SEG_NS" addr add 203.0.113.10/24 dev br0 && ip -n "$SEG_NS" addr add 203.0.113.11/24 dev br0 || return 1
    ip -n "$SEG_NS" addr add 2001:db8:100::10/64 dev br0 nodad && ip -n "$SEG_NS" addr add 2001:db8:100::11/64 dev br0 nodad || return 1
    ip -n "$SEG_NS" addr add 203.0.113.12/24 dev br0 && ip -n "$SEG_NS" addr add 2001:db8:100::12/64 dev br0 nodad || return 1
    # r1's tenant side: the address of its interface in 10.0.0.0/24 and fd00:a::/64, to test the data path
    ip -n "$SEG_NS" addr add 10.0.0.1/32 dev lo && ip -n "$SEG_NS" addr add fd00:a::1/128 dev lo nodad || return 1

    ip -n "$HOST_NS" addr add 203.0.113.1/24 dev ext0 && ip -n "$HOST_NS" addr add 2001:db8:100::1/64 dev ext0 nodad || return 1
    ip -n "$HOST_NS" link set ext0 up || return 1
    ip -n "$UP_NS" addr add 203.0.113.254/24 dev ext0 && ip -n "$UP_NS" addr add 2001:db8:100::fe/64 dev ext0 nodad || return 1
    ip -n "$UP_NS" link set ext0 up || return 1
    ip netns exec "$UP_NS" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || return 1
    # Wait for the link-local addresses (BGP over IPv6 and ND need them).
    local i
    for i in $(seq 50); do
        if ip netns exec "$UP_NS" ping -c1 -W1 -q 203.0.113.1 >/dev/null 2>&1 \
            && ip netns exec "$UP_NS" ping -6 -c1 -W1 -q 2001:db8:100::1 >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    return 1
}

# ---------------------------------------------------------------- daemons
frr_start() { # frr_start NS DIR NAME: zebra + bgpd with configs DIR/zebra.conf DIR/bgpd.conf
    local ns=$1 dir=$2 name=$3 d
    chown -R frr:frr "$dir" && chmod 770 "$dir" || return 1
    for d in zebra bgpd; do
        PIDFILES+=("$dir/$d.pid")
        local extra=()
        [[ $d == zebra ]] || extra=(-p 179)
        ip netns exec "$ns" /usr/lib/frr/$d -d -u frr -g frr \
            -f "$dir/$d.conf" -i "$dir/$d.pid" -z "$dir/zserv.api" --vty_socket "$dir" -P 0 \
            --log "file:$dir/$d.log" "${extra[@]}" >"$dir/$d.out" 2>&1 || { log "$name $d failed to start"; cat "$dir/$d.out"; return 1; }
        local i
        for i in $(seq 50); do [[ -S "$dir/$d.vty" ]] && break; sleep 0.1; done
        [[ -S "$dir/$d.vty" ]] || { log "$name $d: no vty socket"; return 1; }
    done
}

vty() { # vty NS DIR command...
    local ns=$1 dir=$2; shift 2
    local args=() c
    for c in "$@"; do args+=(-c "$c"); done
    ip netns exec "$ns" vtysh --vty_socket "$dir" "${args[@]}"
}

write_upstream_config() {
    local dir=$WORK/upstream
    mkdir -p "$dir"
    cat >"$dir/zebra.conf" <<EOF
hostname upstream
EOF
    cat >"$dir/bgpd.conf" <<EOF
hostname upstream
!
! The agent host announces; the upstream learns and sends nothing back.
route-map FROM-AGENT-HOST permit 10
!
route-map TO-AGENT-HOST deny 10
!
router bgp 65000
 bgp router-id 203.0.113.254
 no bgp default ipv4-unicast
 timers bgp 30 90
 neighbor 203.0.113.1 remote-as 65001
 neighbor 203.0.113.1 timers connect 5
 ! the agent host opens the sessions: no connection collisions, no error back-off on either side
 neighbor 203.0.113.1 passive
 neighbor 2001:db8:100::1 remote-as 65001
 neighbor 2001:db8:100::1 timers connect 5
 neighbor 2001:db8:100::1 passive
 !
 address-family ipv4 unicast
  neighbor 203.0.113.1 activate
  neighbor 203.0.113.1 route-map FROM-AGENT-HOST in
  neighbor 203.0.113.1 route-map TO-AGENT-HOST out
 exit-address-family
 !
 address-family ipv6 unicast
  neighbor 2001:db8:100::1 activate
  neighbor 2001:db8:100::1 route-map FROM-AGENT-HOST in
  neighbor 2001:db8:100::1 route-map TO-AGENT-HOST out
 exit-address-family
!
EOF
}

render() { # render TEMPLATE OUT: fill the @...@ placeholders with this topology's values
    sed -e "s|@ROUTER_ID@|203.0.113.1|g" \
        -e "s|@AGENT_TABLE@|$TABLE|g" -e "s|@AGENT_PROTOCOL@|$PROTO|g" \
        -e "s|@LOCAL_AS@|65001|g" -e "s|@UPSTREAM_AS@|65000|g" \
        -e "s|@LOCAL_V4@|203.0.113.1|g" -e "s|@LOCAL_V6@|2001:db8:100::1|g" \
        -e "s|@PEER_V4@|203.0.113.254|g" -e "s|@PEER_V6@|2001:db8:100::fe|g" \
        "$1" >"$2"
}

start_speaker() {
    case "$SPEAKER" in
    bird)
        local dir=$WORK/bird
        mkdir -p "$dir"
        render "$REPO/packaging/bird/bird-agent-table.conf" "$dir/bird.conf" || return 1
        sed -i "s|^log syslog all;|log \"$dir/bird.log\" all;|" "$dir/bird.conf"
        # test only: log BGP session state changes, to explain a slow start in the log
        sed -i "s|^template bgp upstream {|template bgp upstream {\n    debug { states, events };|" "$dir/bird.conf"
        chown -R bird:bird "$dir" || return 1
        ip netns exec "$HOST_NS" bird -p -c "$dir/bird.conf" || { log "bird config invalid"; return 1; }
        PIDFILES+=("$dir/bird.pid")
        ip netns exec "$HOST_NS" bird -u bird -g bird -c "$dir/bird.conf" -s "$dir/bird.ctl" -P "$dir/bird.pid" \
            || { log "bird failed to start"; return 1; }
        local i
        for i in $(seq 50); do [[ -S "$dir/bird.ctl" ]] && break; sleep 0.1; done
        [[ -S "$dir/bird.ctl" ]]
        ;;
    frr)
        local dir=$WORK/agent-frr
        mkdir -p "$dir"
        render "$REPO/packaging/frr/zebra-agent-table.conf" "$dir/zebra.conf" || return 1
        render "$REPO/packaging/frr/bgpd-agent-table.conf" "$dir/bgpd.conf" || return 1
        sed -i "/^log syslog/d" "$dir/zebra.conf" "$dir/bgpd.conf"   # logs go to --log file:...
        frr_start "$HOST_NS" "$dir" agent-host
        ;;
    esac
}

speaker_state() { # what the agent host's speaker holds, for the report
    case "$SPEAKER" in
    bird) ip netns exec "$HOST_NS" birdc -s "$WORK/bird/bird.ctl" show route all table agent4
          ip netns exec "$HOST_NS" birdc -s "$WORK/bird/bird.ctl" show route all table agent6
          ip netns exec "$HOST_NS" birdc -s "$WORK/bird/bird.ctl" show protocols ;;
    frr)  vty "$HOST_NS" "$WORK/agent-frr" 'show ip route' 'show ip bgp' 'show bgp summary'
          echo "agent host main table:"; ip -n "$HOST_NS" route show table main ;;
    esac
}

# ---------------------------------------------------------------- Neutron data
# tests/clouds/bgp-*.json, one file per step of the scenario:
# r1: gateway 203.0.113.10 / 2001:db8:100::10, tenant 10.0.0.0/24 and fd00:a::/64 (one dual-stack port)
# r2: gateway 203.0.113.11 / 2001:db8:100::11, tenant 10.0.1.0/24 and fd00:b::/64, plus a hostile
#     198.51.100.0/24 and 2001:db8:dead::/64 (outside the allowed prefixes: refused by the agent)
# step 2 removes r1's interface port; step 3 moves r2's gateway to 203.0.113.12 / 2001:db8:100::12.
SNAP1=$REPO/tests/clouds/bgp-1-announce.json
SNAP2=$REPO/tests/clouds/bgp-2-r1-interface-removed.json
SNAP3=$REPO/tests/clouds/bgp-3-r2-gateway-moved.json

plan_refuses() { # plan_refuses PLAN.json: both hostile prefixes are among the refused ones
    if command -v python3 >/dev/null; then
        python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); r={x.get("destination") for x in d["refused"]}
for x in d["refused"]: print("#   refused:", x.get("destination"), x["reason"], "-", x["message"])
sys.exit(0 if {"198.51.100.0/24","2001:db8:dead::/64"} <= r else 1)' "$1"
    else
        grep -q '"198.51.100.0/24"' "$1" && grep -q '"2001:db8:dead::/64"' "$1" && grep -q '"refused"' "$1"
    fi
}

agent_sync() { # agent_sync SNAPSHOT: the real agent, in the agent host's namespace
    ip netns exec "$HOST_NS" "$AGENT_BIN" sync --snapshot "$1" --table "$TABLE" --protocol "$PROTO" \
        --nexthop-mode "$NH_MODE" >"$WORK/agent-sync.out" 2>&1
    local rc=$?
    sed 's/^/#   agent: /' "$WORK/agent-sync.out"
    return $rc
}

# ---------------------------------------------------------------- upstream observations
upstream_route() { # the upstream kernel's route for PREFIX, one line per next hop
    local fam=-4; [[ $1 == *:* ]] && fam=-6
    ip -n "$UP_NS" "$fam" route show exact "$1" 2>/dev/null
}
# exactly one next hop, and it is GW (not the agent host, not ECMP)
upstream_has_via() { # PREFIX GW
    local out; out=$(upstream_route "$1")
    [[ -n "$out" ]] || return 1
    grep -q "via $2 " <<<"$out$IFS" || grep -q "via $2\$" <<<"$out" || return 1
    ! grep -q "nexthop" <<<"$out" || return 1
    ! grep -Eq "via (203\.0\.113\.1|2001:db8:100::1|fe80:[^ ]*) " <<<"$out "
}
upstream_ping() { ip netns exec "$UP_NS" ping -c1 -W2 -q "$1" >/dev/null 2>&1; }
upstream_absent() { [[ -z "$(upstream_route "$1")" ]]; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
wait_for() { # wait_for SECONDS command... ; sets ELAPSED (seconds, 0.1 s resolution) on success
    local limit_ms=$(( $1 * 1000 )); shift
    local start; start=$(now_ms)
    local el
    while :; do
        if "$@"; then
            el=$(( $(now_ms) - start )); ELAPSED=$(printf '%d.%d' $((el / 1000)) $(((el % 1000) / 100))); return 0
        fi
        (( $(now_ms) - start > limit_ms )) && { ELAPSED=$((limit_ms / 1000)); return 1; }
        sleep 0.1
    done
}

# ---------------------------------------------------------------- scenario (one per next hop mode)
scenario() {
    log "speaker=$SPEAKER nexthop-mode=$NH_MODE table=$TABLE protocol=$PROTO work=$WORK"
    setup_topology || { fail "network namespaces and the external segment are set up"; return 1; }
    pass "network namespaces and the external segment are set up"

    write_upstream_config
    frr_start "$UP_NS" "$WORK/upstream" upstream && pass "upstream FRR (zebra + bgpd) started" \
        || { fail "upstream FRR (zebra + bgpd) started"; return 1; }
    start_speaker && pass "agent-host BGP speaker ($SPEAKER) started from the packaging template" \
        || { fail "agent-host BGP speaker ($SPEAKER) started from the packaging template"; return 1; }

    # A route of another owner in the agent's table (wrong protocol) and a connected network on the
    # host: neither may be announced.
    ip -n "$HOST_NS" route add 10.99.0.0/24 via 203.0.113.10 proto static table "$TABLE"
    ip -n "$HOST_NS" link add int0 type veth peer name int1 && ip -n "$HOST_NS" addr add 10.77.0.1/24 dev int0 \
        && ip -n "$HOST_NS" link set int0 up && ip -n "$HOST_NS" link set int1 up \
        || fail "connected network 10.77.0.0/24 added on the agent host"

    # The agent's own account: both hostile prefixes are refused (so they never reach the table).
    ip netns exec "$HOST_NS" "$AGENT_BIN" plan --snapshot "$SNAP1" --table "$TABLE" --protocol "$PROTO" \
        --nexthop-mode "$NH_MODE" --format json >"$WORK/plan.json" 2>"$WORK/plan.err"
    check "agent plan refuses 198.51.100.0/24 and 2001:db8:dead::/64 (outside the allowed prefixes)" \
        plan_refuses "$WORK/plan.json"
    check "agent sync exits 0 (routes written to table $TABLE)" agent_sync "$SNAP1"
    log "agent host table $TABLE:"; ip -n "$HOST_NS" route show table "$TABLE" | sed 's/^/#   /'
    ip -n "$HOST_NS" -6 route show table "$TABLE" 2>/dev/null | sed 's/^/#   /'

    FAMS=(4)
    [[ "$SPEAKER" == bird ]] && FAMS=(4 6)
    V6_SKIP_NOTE="IPv6 not announced by FRR 8.4 from an imported table (see docs/bgp.md); use MRA_BGP_SPEAKER=bird"

    if wait_for "$ANNOUNCE_TIMEOUT" upstream_has_via 10.0.0.0/24 203.0.113.10; then
        pass "upstream kernel: 10.0.0.0/24 via 203.0.113.10 (r1's gateway), single next hop (${ELAPSED}s)"
    else
        fail "upstream kernel: 10.0.0.0/24 via 203.0.113.10 (got: $(upstream_route 10.0.0.0/24))"
        [[ -f "$WORK/bird/bird.log" ]] && { log "BIRD log:"; tail -40 "$WORK/bird/bird.log" | sed 's/^/#   /'; }
        log "upstream bgpd log:"; tail -20 "$WORK/upstream/bgpd.log" | sed 's/^/#   /'
    fi
    check "upstream kernel: 10.0.1.0/24 via 203.0.113.11 (r2's gateway), single next hop" \
        wait_for 5 upstream_has_via 10.0.1.0/24 203.0.113.11
    if [[ " ${FAMS[*]} " == *" 6 "* ]]; then
        if wait_for "$ANNOUNCE_TIMEOUT" upstream_has_via fd00:a::/64 2001:db8:100::10; then
            pass "upstream kernel: fd00:a::/64 via 2001:db8:100::10 (r1's gateway), single next hop (${ELAPSED}s)"
        else fail "upstream kernel: fd00:a::/64 via 2001:db8:100::10 (got: $(upstream_route fd00:a::/64))"; fi
        check "upstream kernel: fd00:b::/64 via 2001:db8:100::11 (r2's gateway), single next hop" \
            wait_for 5 upstream_has_via fd00:b::/64 2001:db8:100::11
    else
        log "SKIP-NOTE $V6_SKIP_NOTE"
    fi
    # Data path: the agent host does not forward (ip_forward=0, table 200 unused), so an answer proves
    # that the upstream sends tenant traffic straight to the tenant router's gateway.
    check "data path: upstream reaches r1's tenant address 10.0.0.1 directly via 203.0.113.10" \
        upstream_ping 10.0.0.1
    if [[ " ${FAMS[*]} " == *" 6 "* ]]; then
        check "data path: upstream reaches r1's tenant address fd00:a::1 directly via 2001:db8:100::10" \
            upstream_ping fd00:a::1
    fi
    sleep 2  # give anything that should not be announced time to arrive
    check "hostile 198.51.100.0/24 (refused by the agent) is absent upstream" upstream_absent 198.51.100.0/24
    check "hostile 2001:db8:dead::/64 (refused by the agent) is absent upstream" upstream_absent 2001:db8:dead::/64
    check "hostile 198.51.100.0/24 is not in the agent host's table $TABLE" \
        bash -c "[[ -z \$(ip -n $HOST_NS route show table $TABLE 198.51.100.0/24) ]]"
    if [[ "$SPEAKER" == bird ]]; then
        check "foreign route 10.99.0.0/24 (proto static) in table $TABLE is not announced" upstream_absent 10.99.0.0/24
    elif upstream_absent 10.99.0.0/24; then
        log "NOTE foreign route 10.99.0.0/24 (proto static) in table $TABLE was not announced by FRR"
    else
        log "XFAIL foreign route 10.99.0.0/24 (proto static) in table $TABLE announced by FRR: zebra cannot match" \
            "a kernel route's protocol number, so in FRR mode the table must be dedicated to the agent (docs/bgp.md)"
    fi
    check "the host's connected network 10.77.0.0/24 is not announced" upstream_absent 10.77.0.0/24
    check "the external segment 203.0.113.0/24 is not learned over BGP" \
        bash -c "! ip -n $UP_NS route show exact 203.0.113.0/24 | grep -q 'proto bgp'"
    check "no IPv4 prefix learned over the IPv6 session (no ECMP via the agent host)" \
        bash -c "! ip -n $UP_NS -4 route show proto bgp | grep -Eq 'nexthop|via 203\.0\.113\.1 |inet6|fe80'"
    check "the upstream learned nothing but the ${#FAMS[@]}x2 tenant prefixes (the foreign route aside)" \
        bash -c "n=\$( (ip -n $UP_NS -4 route show proto bgp; ip -n $UP_NS -6 route show proto bgp) | grep -v '^10\\.99\\.0\\.0/24' | grep -c .); [[ \$n == $((2 * ${#FAMS[@]})) ]]"

    {
        echo "---- upstream: show bgp ipv4 unicast"; vty "$UP_NS" "$WORK/upstream" 'show bgp ipv4 unicast'
        echo "---- upstream: show bgp ipv6 unicast"; vty "$UP_NS" "$WORK/upstream" 'show bgp ipv6 unicast'
        echo "---- upstream: show bgp ipv4 unicast 10.0.0.0/24"; vty "$UP_NS" "$WORK/upstream" 'show bgp ipv4 unicast 10.0.0.0/24'
        echo "---- upstream: show bgp ipv6 unicast fd00:a::/64"; vty "$UP_NS" "$WORK/upstream" 'show bgp ipv6 unicast fd00:a::/64'
        echo "---- upstream: kernel routes proto bgp"; ip -n "$UP_NS" -4 route show proto bgp; ip -n "$UP_NS" -6 route show proto bgp
        echo "---- agent host: speaker state"; speaker_state
    } 2>&1 | sed 's/^/#   /'

    # ---- withdrawal: r1's interface port is removed in Neutron; the next sync deletes its routes.
    check "agent sync after r1's interface was removed exits 0" agent_sync "$SNAP2"
    if wait_for "$WITHDRAW_TIMEOUT" upstream_absent 10.0.0.0/24; then
        pass "10.0.0.0/24 withdrawn upstream within ${WITHDRAW_TIMEOUT}s (took ${ELAPSED}s)"
    else fail "10.0.0.0/24 withdrawn upstream within ${WITHDRAW_TIMEOUT}s (still: $(upstream_route 10.0.0.0/24))"; fi
    if [[ " ${FAMS[*]} " == *" 6 "* ]]; then
        if wait_for "$WITHDRAW_TIMEOUT" upstream_absent fd00:a::/64; then
            pass "fd00:a::/64 withdrawn upstream within ${WITHDRAW_TIMEOUT}s (took ${ELAPSED}s)"
        else fail "fd00:a::/64 withdrawn upstream within ${WITHDRAW_TIMEOUT}s (still: $(upstream_route fd00:a::/64))"; fi
    fi
    check "r2's 10.0.1.0/24 is still announced via 203.0.113.11" upstream_has_via 10.0.1.0/24 203.0.113.11
    if [[ " ${FAMS[*]} " == *" 6 "* ]]; then
        check "r2's fd00:b::/64 is still announced via 2001:db8:100::11" upstream_has_via fd00:b::/64 2001:db8:100::11
    fi

    # ---- next hop change: r2's gateway IP changes in Neutron; the agent replaces the route in place and the
    # new next hop reaches the upstream (an in-place replace must not leave the old next hop announced).
    check "agent sync after r2's gateway moved to .12 exits 0" agent_sync "$SNAP3"
    if wait_for "$WITHDRAW_TIMEOUT" upstream_has_via 10.0.1.0/24 203.0.113.12; then
        pass "10.0.1.0/24 now via 203.0.113.12 upstream within ${WITHDRAW_TIMEOUT}s (took ${ELAPSED}s)"
    else fail "10.0.1.0/24 now via 203.0.113.12 upstream within ${WITHDRAW_TIMEOUT}s (got: $(upstream_route 10.0.1.0/24))"; fi
    if [[ " ${FAMS[*]} " == *" 6 "* ]]; then
        if wait_for "$WITHDRAW_TIMEOUT" upstream_has_via fd00:b::/64 2001:db8:100::12; then
            pass "fd00:b::/64 now via 2001:db8:100::12 upstream within ${WITHDRAW_TIMEOUT}s (took ${ELAPSED}s)"
        else fail "fd00:b::/64 now via 2001:db8:100::12 upstream within ${WITHDRAW_TIMEOUT}s (got: $(upstream_route fd00:b::/64))"; fi
    fi
    sleep 1
    check "10.0.1.0/24 stays via 203.0.113.12 (no flap back, no withdrawal)" upstream_has_via 10.0.1.0/24 203.0.113.12
}

# ---------------------------------------------------------------- run
n=0
for NH_MODE in "${NH_MODES[@]}"; do
    n=$((n + 1))
    HOST_NS="mra-bgp-host-$$-$n" SEG_NS="mra-bgp-seg-$$-$n" UP_NS="mra-bgp-up-$$-$n"
    WORK=$WORK_ROOT/$NH_MODE
    mkdir -p "$WORK" && chmod 755 "$WORK"
    ASSERT_TAG="[$SPEAKER/$NH_MODE] "
    scenario
    if [[ -n "${MRA_BGP_PAUSE:-}" ]]; then   # debugging: inspect the live namespaces
        log "pausing ${MRA_BGP_PAUSE}s: namespaces $HOST_NS $SEG_NS $UP_NS, state in $WORK"; sleep "$MRA_BGP_PAUSE"
    fi
    stop_daemons
done
ASSERT_TAG=""
summary
