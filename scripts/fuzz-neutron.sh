#!/usr/bin/env bash
# Builds the streaming Neutron page decoder fuzz target (libFuzzer + AddressSanitizer) and runs it. Each input
# is also decoded by Foundation's JSONDecoder (the reference): a different verdict is a finding too.
#   scripts/fuzz-neutron.sh [SECONDS]     default 30; exits non-zero when the fuzzer finds a crash or a difference.
# Environment: FUZZ_OUT (build/corpus directory, default .build/fuzz-neutron), FUZZ_JOBS (parallel workers, default 1).
set -euo pipefail

seconds="${1:-30}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${FUZZ_OUT:-$root/.build/fuzz-neutron}"
mkdir -p "$out/corpus" "$out/src"

# The decoder, the wire table and Model compile as one module (`import Model` dropped from the copies).
rm -f "$out/src/"*.swift
cp "$root"/Sources/Model/*.swift "$out/src/"
for f in StreamingJSON NeutronPageDecoder NeutronWire ListPage; do
    sed 's/^import Model$//' "$root/Sources/OpenStack/$f.swift" > "$out/src/$f.swift"
done
cp "$root"/Fuzz/NeutronPageFuzz/*.swift "$out/src/"

echo "fuzz-neutron: building $out/neutron-fuzz"
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name NeutronPageFuzz \
    "$out"/src/*.swift -o "$out/neutron-fuzz"

# Seeds: the recorded answers of a real Neutron, and small pages with escapes, nulls and links.
fixtures="$root/../shared/fixtures/neutron"
[ -d "$fixtures" ] || fixtures="/work/shared/fixtures/neutron"
for f in "$fixtures"/*.json; do [ -f "$f" ] && cp "$f" "$out/corpus/seed-$(basename "$f")"; done
printf '%s' '{"routers": [{"id": "r\u00e9\ud83d\ude00", "admin_state_up": true, "tags": ["a"], "external_gateway_info": {"network_id": "n", "enable_snat": false, "external_fixed_ips": [{"subnet_id": "s", "ip_address": "203.0.113.5"}]}, "x": [1, -2.5e3, null, {}]}], "routers_links": [{"rel": "next", "href": "http://h/v2.0/routers?marker=r"}]}' > "$out/corpus/seed-router"
printf '%s' '{"ports": [{"id": "p", "device_id": "r", "device_owner": "network:router_interface", "fixed_ips": [{"subnet_id": "s", "ip_address": "2001:db8::1"}]}]}' > "$out/corpus/seed-port"
printf '%s' '{"subnets": [{"id": "s", "cidr": "10.0.0.0/24", "subnetpool_id": null, "created_at": "2026-01-01T00:00:00Z"}], "subnets_links": []}' > "$out/corpus/seed-subnet"
printf '%s' '{"networks": [{"id": "e", "name": "public", "router:external": true, "ipv4_address_scope": null}]}' > "$out/corpus/seed-network"

echo "fuzz-neutron: running for ${seconds}s"
jobs="${FUZZ_JOBS:-1}"
parallel=()
if [ "$jobs" -gt 1 ]; then
    cd "$out"
    parallel=(-jobs="$jobs" -workers="$jobs")
fi
# Globals of the wire table are created once, on the first input: not leaks.
ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}" "$out/neutron-fuzz" -max_total_time="$seconds" -max_len=4096 -detect_leaks=0 "${parallel[@]}" \
    -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus"
echo "fuzz-neutron: no crash and no difference in ${seconds}s"
