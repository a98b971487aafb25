#!/usr/bin/env bash
# The metadata problem and its fix in one minute, on this machine, with no OpenStack (`make demo`).
#
# Three network namespaces play an instance, its Neutron router and the metadata host. The instance
# asks 169.254.169.254 for its SSH key; the router forwards the request with the instance's private
# address, and the metadata host has no route back, so the request times out. Then
# metadata-route-agent reads a Neutron snapshot describing this cloud, shows its plan, syncs the
# kernel, and the instance gets its key. Everything is removed at the end, also on Ctrl-C.
#
# Needs root (namespaces). Without root it runs `plan` against examples/demo-snapshot.json instead.
# MRA_AGENT=PATH uses an already built binary instead of building one.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib/netns.sh
source "$ROOT/scripts/lib/netns.sh"

bold=""; dim=""; reset=""
if [[ -t 1 ]]; then bold=$'\e[1m'; dim=$'\e[2m'; reset=$'\e[0m'; fi

step() { printf '\n%s==> %s%s\n' "$bold" "$*" "$reset"; }
say() { printf '    %s\n' "$*"; }
# show_cmd CMD...: print a command the way a reader would type it, then run it, output indented.
show_cmd() {
    printf '    %s$ %s%s\n' "$dim" "$*" "$reset"
    local rc=0
    "$@" 2>&1 | sed 's/^/      /' || rc=${PIPESTATUS[0]}
    return "$rc"
}

# The agent: given, or built here.
build_agent() {
    if [[ -n ${MRA_AGENT:-} ]]; then
        AGENT=$MRA_AGENT
        say "using $AGENT"
    elif [[ -n ${MAKELEVEL:-} && -x $ROOT/.build/debug/metadata-route-agent ]]; then
        # `make demo` has just built it (its `build` prerequisite): no second build.
        AGENT="$ROOT/.build/debug/metadata-route-agent"
        say "built by make: .build/debug/metadata-route-agent"
    else
        say "swift build --product metadata-route-agent (the first build takes a while)"
        (cd "$ROOT" && swift build --product metadata-route-agent 2>&1 | sed 's/^/    /')
        AGENT="$ROOT/.build/debug/metadata-route-agent"
    fi
    [[ -x $AGENT ]] || { echo "no agent binary at $AGENT" >&2; exit 1; }
    # Put it on PATH so that the commands below read as an operator would type them.
    AGENT_DIR=$(cd "$(dirname "$AGENT")" && pwd)
    PATH="$AGENT_DIR:$PATH"
    AGENT=$(basename "$AGENT")
}

# ---- without root: the plan for the bundled snapshot ------------------------------------------
if ! mra_is_root; then
    echo "This demo needs root to create network namespaces, so it only shows what the agent would do for the bundled snapshot (run 'sudo make demo' for the whole story)."
    step "1. Building"
    build_agent
    snapshot="$ROOT/examples/demo-snapshot.json"
    step "2. plan: what the agent would do for examples/demo-snapshot.json (changes nothing)"
    say "A cloud with one tenant router (10.0.0.0/24 and fd00:10::/64 behind 203.0.113.10 / 2001:db8:100::10)"
    say "and a hostile one whose subnets must all be refused."
    # The agent only routes via next hops on networks this host is connected to. Where the kernel lets
    # ordinary users create a private user + network namespace, give that namespace the external
    # network (a veth pair with 203.0.113.2/24) so the plan looks as it would on the metadata host.
    private_host="ip link add name ext0 type veth peer name ext1 && ip link set ext0 up && ip link set ext1 up &&
        ip addr add $MRA_META_V4/24 dev ext0 && ip addr add $MRA_META_V6/64 dev ext0 nodad"
    if unshare --user --map-root-user --net bash -c "$private_host" 2>/dev/null; then
        say "(run in a private network namespace connected to $MRA_EXT_V4_CIDR and $MRA_EXT_V6_CIDR, as the metadata host is)"
        printf '    %s$ metadata-route-agent plan --snapshot examples/demo-snapshot.json%s\n' "$dim" "$reset"
        unshare --user --map-root-user --net bash -c "$private_host && exec \"\$0\" plan --snapshot \"\$1\"" \
            "$AGENT" "$snapshot" 2>&1 | sed 's/^/      /' || true
    else
        say "(no user namespaces here: this host is not on the external network, so expect next-hop refusals too)"
        show_cmd "$AGENT" plan --snapshot "$snapshot" || true
    fi
    exit 0
fi

# ---- with root: the whole story ---------------------------------------------------------------
mra_init demo
# On any exit (normal, error or Ctrl-C) say what is being removed, then remove it.
demo_cleanup() {
    step "cleaning up"
    say "deleting namespaces ${MRA_NAMESPACES[*]:-(none)} and stopping the HTTP servers"
    mra_cleanup
}
trap 'demo_cleanup' EXIT      # Ctrl-C and SIGTERM exit through it too (see mra_init)

step "1. Building"
build_agent

step "2. Setting up an instance, its tenant router and the metadata host (network namespaces)"
mra_topology_create
mra_metadata_server_start
SNAPSHOT="$MRA_TMP/neutron.json"
mra_write_snapshot "$SNAPSHOT"
cat <<EOF
    instance                 tenant router                              metadata host
    10.0.0.5/24 ------------ 10.0.0.1 | 203.0.113.10 ------------------ 203.0.113.2 (HTTP :80)
    fd00:10::5/64            fd00:10::1 | 2001:db8:100::10              2001:db8:100::2
    default via 10.0.0.1     DNAT 169.254.169.254:80 -> 203.0.113.2     default via 203.0.113.1
                             no SNAT for DNATed traffic                 (nobody there)
    namespaces: $NS_INST, $NS_RTR, $NS_META
    Neutron (here a snapshot file) also lists a hostile router claiming 0.0.0.0/1, 203.0.113.0/25,
    10.0.0.0/8 and a copy of 10.0.0.0/24: the agent must refuse them all.
EOF

step "3. The instance asks for its SSH key"
say "the router DNATs the request to 203.0.113.2 but keeps the source 10.0.0.5;"
say "the metadata host would answer via its default route, where nobody is."
if show_cmd ip netns exec "$NS_INST" curl -s -f -m 3 "http://$MRA_METADATA_IP/$MRA_KEY_PATH"; then
    say "unexpected: it worked already"
else
    say "... (times out: no route back)"
fi

step "4. plan: what the agent would change (changes nothing)"
show_cmd ip netns exec "$NS_META" "$AGENT" plan --snapshot "$SNAPSHOT" || true

step "5. sync: the agent installs the routes on the metadata host"
say "(the plan above already lists every refusal; --log-level warning keeps this to the summary)"
show_cmd ip netns exec "$NS_META" "$AGENT" sync --snapshot "$SNAPSHOT" --log-level warning

step "6. The instance asks again"
if key=$(instance_fetch_key); then
    say "got key: $key"
else
    say "still no answer - something is wrong (see above)"
    exit 1
fi

step "7. routes: what the agent owns now (proto $MRA_PROTO), and the kernel's view"
show_cmd ip netns exec "$NS_META" "$AGENT" routes
show_cmd ip netns exec "$NS_META" ip route show
show_cmd ip netns exec "$NS_META" ip -6 route show
