# shellcheck shell=bash
# Shared helpers for the metadata scenario: scripts/demo.sh and tests/e2e/*.sh source this file.
#
# The topology reproduces the 2013 metadata failure (a Neutron l3 agent DNATs 169.254.169.254 to a
# metadata host but keeps the instance's private source address, and the host has no route back):
#
#   instance ns                 tenant router ns                              metadata host ns
#   eth0 10.0.0.5/24  ───────── qr 10.0.0.1/24        qg 203.0.113.10/24 ─────── eth0 203.0.113.2/24
#        fd00:10::5/64             fd00:10::1/64          2001:db8:100::10/64         2001:db8:100::2/64
#   default via 10.0.0.1        ip_forward, nftables:                         default via 203.0.113.1
#   default via fd00:10::1        DNAT 169.254.169.254:80 -> 203.0.113.2:80     (an upstream that does not
#                                 ct status dnat accept (no SNAT for it)         exist: replies to 10/8 die)
#                                 SNAT 10.0.0.0/24 -> 203.0.113.10             HTTP :80 serves the metadata
#
# Every name carries a per-run suffix, every namespace and process is recorded, and mra_cleanup
# (installed as an EXIT/INT/TERM trap by mra_init) removes all of them, also after a failure.
#
# Usage:  source scripts/lib/netns.sh; mra_init demo; mra_topology_create; ...

# ---- addresses of the scenario (documentation and private prefixes only) ----------------------
MRA_TENANT_V4_CIDR=10.0.0.0/24
MRA_INSTANCE_V4=10.0.0.5
MRA_ROUTER_INT_V4=10.0.0.1
MRA_TENANT_V6_CIDR=fd00:10::/64
MRA_INSTANCE_V6=fd00:10::5
MRA_ROUTER_INT_V6=fd00:10::1
MRA_EXT_V4_CIDR=203.0.113.0/24
MRA_ROUTER_GW_V4=203.0.113.10
MRA_META_V4=203.0.113.2
MRA_UPSTREAM_V4=203.0.113.1       # the metadata host's default gateway: nobody answers there
MRA_EXT_V6_CIDR=2001:db8:100::/64
MRA_ROUTER_GW_V6=2001:db8:100::10
MRA_META_V6=2001:db8:100::2
MRA_UPSTREAM_V6=2001:db8:100::1
MRA_METADATA_IP=169.254.169.254
MRA_KEY_PATH=latest/meta-data/public-keys/0/openssh-key
MRA_INSTANCE_HTTP_PORT=8080       # a small HTTP server on the instance, for the IPv6 check
# shellcheck disable=SC2034  # used by the scripts that source this file
MRA_PROTO=200                     # the route protocol number the agent owns (its default)
# The scenario's clouds (snapshot files), tests/clouds/metadata-scenario*.json.
MRA_CLOUDS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../tests/clouds" && pwd)

# Prefer the system interpreter: a version-manager shim would add a wrapper process.
if [[ -x /usr/bin/python3 ]]; then MRA_PYTHON=/usr/bin/python3; else MRA_PYTHON=python3; fi

# ---- state of this run ------------------------------------------------------------------------
MRA_NAMESPACES=()                 # namespaces created by this run, deleted by mra_cleanup
MRA_PIDS=()                       # background processes started by this run, killed by mra_cleanup
MRA_TMP=""                        # scratch directory of this run
MRA_CLEANED=0

# mra_init PURPOSE: pick unique names (mra-PURPOSE-<role>-<pid>), make a scratch dir, install the trap.
mra_init() {
    local purpose=$1 suffix="$$"
    NS_INST="mra-${purpose}-inst-${suffix}"
    NS_RTR="mra-${purpose}-rtr-${suffix}"
    NS_META="mra-${purpose}-meta-${suffix}"
    MRA_TMP=$(mktemp -d "${TMPDIR:-/tmp}/mra-${purpose}.XXXXXX")
    trap 'mra_cleanup' EXIT
    # On Ctrl-C or SIGTERM, exit: the EXIT trap then cleans up.
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

# mra_cleanup: kill what we started, delete the namespaces we created, remove the scratch dir.
# Safe to call more than once; never fails (it runs from traps).
mra_cleanup() {
    [[ $MRA_CLEANED == 1 ]] && return 0
    MRA_CLEANED=1
    set +e
    local pid ns
    for pid in "${MRA_PIDS[@]}"; do
        kill "$pid" 2>/dev/null
    done
    for pid in "${MRA_PIDS[@]}"; do
        # Reap our own children quietly; give stubborn ones a second, then SIGKILL.
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    for ns in "${MRA_NAMESPACES[@]}"; do
        # Anything still running inside one of our namespaces was started by this run.
        for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
        ip netns delete "$ns" 2>/dev/null
    done
    [[ -n $MRA_TMP && -d $MRA_TMP ]] && rm -rf "$MRA_TMP"
    set -e
    return 0
}

# in_ns NS CMD...: run a command inside a namespace.
in_ns() {
    local ns=$1; shift
    ip netns exec "$ns" "$@"
}

# mra_bg NS LOGFILE CMD...: start a long-running command inside NS in the background and record it.
# `ip netns exec` execs the command, so the recorded pid is the command itself.
mra_bg() {
    local ns=$1 log=$2; shift 2
    ip netns exec "$ns" "$@" >"$log" 2>&1 &
    MRA_PIDS+=("$!")
}

# wait_for SECONDS DESCRIPTION CMD...: poll CMD every 0.1 s until it succeeds; fail after SECONDS.
wait_for() {
    local seconds=$1 what=$2; shift 2
    local tries=$((seconds * 10))
    while ((tries-- > 0)); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    echo "timed out after ${seconds}s waiting for: $what" >&2
    return 1
}

# mra_is_root: true when we may create namespaces.
mra_is_root() { [[ $(id -u) == 0 ]]; }

# ---- topology ---------------------------------------------------------------------------------

# mra_ns_add NS: create a namespace, record it, bring up loopback.
mra_ns_add() {
    ip netns add "$1"
    MRA_NAMESPACES+=("$1")
    in_ns "$1" ip link set lo up
}

# mra_topology_create: the three namespaces, their links, addresses, routes and NAT rules.
mra_topology_create() {
    mra_ns_add "$NS_INST"
    mra_ns_add "$NS_RTR"
    mra_ns_add "$NS_META"

    # Veth pairs are created directly inside the namespaces: the host's own namespace is never touched.
    ip link add name eth0 netns "$NS_INST" type veth peer name qr netns "$NS_RTR"
    ip link add name qg netns "$NS_RTR" type veth peer name eth0 netns "$NS_META"

    # Instance: tenant addresses, default routes via its router. `nodad` makes IPv6 usable at once.
    in_ns "$NS_INST" ip addr add "$MRA_INSTANCE_V4/24" dev eth0
    in_ns "$NS_INST" ip addr add "$MRA_INSTANCE_V6/64" dev eth0 nodad
    in_ns "$NS_INST" ip link set eth0 up
    in_ns "$NS_INST" ip route add default via "$MRA_ROUTER_INT_V4"
    in_ns "$NS_INST" ip -6 route add default via "$MRA_ROUTER_INT_V6"

    # Tenant router: interface on the tenant subnet, gateway on the external network, forwarding on.
    in_ns "$NS_RTR" ip addr add "$MRA_ROUTER_INT_V4/24" dev qr
    in_ns "$NS_RTR" ip addr add "$MRA_ROUTER_INT_V6/64" dev qr nodad
    in_ns "$NS_RTR" ip addr add "$MRA_ROUTER_GW_V4/24" dev qg
    in_ns "$NS_RTR" ip addr add "$MRA_ROUTER_GW_V6/64" dev qg nodad
    in_ns "$NS_RTR" ip link set qr up
    in_ns "$NS_RTR" ip link set qg up
    in_ns "$NS_RTR" sysctl -qw net.ipv4.ip_forward=1
    in_ns "$NS_RTR" sysctl -qw net.ipv6.conf.all.forwarding=1
    mra_router_nat_rules | in_ns "$NS_RTR" nft -f -

    # Metadata host: on the external network; its default route leads to an upstream that is not there.
    in_ns "$NS_META" ip addr add "$MRA_META_V4/24" dev eth0
    in_ns "$NS_META" ip addr add "$MRA_META_V6/64" dev eth0 nodad
    in_ns "$NS_META" ip link set eth0 up
    in_ns "$NS_META" ip route add default via "$MRA_UPSTREAM_V4"
    in_ns "$NS_META" ip -6 route add default via "$MRA_UPSTREAM_V6"
}

# mra_router_nat_rules: the l3 agent's NAT of that time, as nftables. IPv6 is routed without NAT.
mra_router_nat_rules() {
    cat <<EOF
table ip mra_nat {
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
        # The metadata address, redirected to the metadata host.
        ip daddr $MRA_METADATA_IP tcp dport 80 dnat to $MRA_META_V4:80
    }
    chain postrouting {
        type nat hook postrouting priority srcnat; policy accept;
        # DNATed connections keep the instance's private source address (the metadata service needs it
        # to tell instances apart) - which is why the metadata host needs a route back to the tenant.
        ct status dnat accept
        # Everything else from the tenant leaves with the router's gateway address.
        ip saddr $MRA_TENANT_V4_CIDR oifname "qg" snat to $MRA_ROUTER_GW_V4
    }
}
EOF
}

# ---- servers ----------------------------------------------------------------------------------

# mra_metadata_server_start: serve a metadata tree with a generated test key on port 80 (v4 and v6)
# in the metadata host namespace. Sets MRA_TEST_KEY.
mra_metadata_server_start() {
    local root="$MRA_TMP/metadata"
    mkdir -p "$root/$(dirname "$MRA_KEY_PATH")"
    # A recognisable, per-run test key string (not a real key: nothing here needs one).
    MRA_TEST_KEY="ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n') mra-test-$$"
    printf '%s\n' "$MRA_TEST_KEY" >"$root/$MRA_KEY_PATH"
    # Binding "::" makes http.server dual-stack (IPv4-mapped addresses accepted too).
    mra_bg "$NS_META" "$MRA_TMP/metadata-server.log" \
        "$MRA_PYTHON" -m http.server 80 --bind :: --directory "$root"
    wait_for 10 "metadata server on port 80" \
        in_ns "$NS_META" curl -sf -m 1 "http://127.0.0.1/$MRA_KEY_PATH"
    wait_for 5 "metadata server on IPv6" \
        in_ns "$NS_META" curl -sf -m 1 "http://[::1]/$MRA_KEY_PATH"
}

# mra_instance_server_start: a small HTTP server on the instance (IPv6 reachability check).
mra_instance_server_start() {
    local root="$MRA_TMP/instance"
    mkdir -p "$root"
    echo "hello from the instance" >"$root/index.html"
    mra_bg "$NS_INST" "$MRA_TMP/instance-server.log" \
        "$MRA_PYTHON" -m http.server "$MRA_INSTANCE_HTTP_PORT" --bind :: --directory "$root"
    wait_for 10 "instance server on port $MRA_INSTANCE_HTTP_PORT" \
        in_ns "$NS_INST" curl -sf -m 1 "http://[::1]:$MRA_INSTANCE_HTTP_PORT/"
}

# ---- probes -----------------------------------------------------------------------------------

# instance_fetch_key: the instance asks the metadata address for its key (3 s timeout); prints the body.
instance_fetch_key() {
    in_ns "$NS_INST" curl -s -f -m 3 "http://$MRA_METADATA_IP/$MRA_KEY_PATH"
}

# meta_fetch_instance_v6: the metadata host asks the instance's HTTP server over IPv6 (3 s timeout).
meta_fetch_instance_v6() {
    in_ns "$NS_META" curl -s -f -m 3 "http://[$MRA_INSTANCE_V6]:$MRA_INSTANCE_HTTP_PORT/"
}

# meta_routes: every IPv4 and IPv6 route of the metadata host's main table, one per line.
meta_routes() {
    in_ns "$NS_META" ip -4 route show table main
    in_ns "$NS_META" ip -6 route show table main
}

# ---- the Neutron side -------------------------------------------------------------------------

# mra_write_snapshot FILE [WITH_V4_INTERFACE=yes] [WITH_HOSTILE=yes]
# Puts in place (atomically: a reader never sees half a file) the snapshot (Model.CloudSnapshot,
# Neutron's keys) of tests/clouds/metadata-scenario*.json describing this topology:
#   router-a (project tenant-a): gateway 203.0.113.10 / 2001:db8:100::10, interfaces on
#     10.0.0.0/24 (port port-a-v4) and fd00:10::/64 (port port-a-v6);
#   router-evil (project mallory): gateway 203.0.113.20 on the same external network, interfaces on
#     subnets that must all be refused: 0.0.0.0/1 (outside allowed prefixes, too short),
#     203.0.113.0/25 (overlaps the external network), 10.0.0.0/8 (private but shorter than /16)
#     and 10.0.0.0/24 again, created later (it must not take over tenant-a's route).
# WITH_V4_INTERFACE=no leaves out port-a-v4: "the router interface was removed in Neutron";
# WITH_HOSTILE=no leaves out router-evil and its port. (Without the v4 interface, only without the hostile router.)
mra_write_snapshot() {
    local file=$1 cloud
    case "${2:-yes}:${3:-yes}" in
        yes:yes) cloud=metadata-scenario ;;
        yes:no) cloud=metadata-scenario-without-hostile ;;
        no:no) cloud=metadata-scenario-without-v4-interface ;;
        *) echo "mra_write_snapshot: no cloud in tests/clouds for '$2 $3'" >&2; return 1 ;;
    esac
    cp "$MRA_CLOUDS/$cloud.json" "$file.tmp" && mv -f "$file.tmp" "$file"
}
