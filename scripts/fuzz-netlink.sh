#!/usr/bin/env bash
# Builds the netlink decoder fuzz target (libFuzzer + AddressSanitizer) and runs it.
#   scripts/fuzz-netlink.sh [SECONDS]     default 30; exits non-zero when the fuzzer finds a crash.
# Environment: FUZZ_OUT (build/corpus directory, default .build/fuzz), FUZZ_JOBS (parallel workers, default 1).
set -euo pipefail

seconds="${1:-30}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${FUZZ_OUT:-$root/.build/fuzz}"
mkdir -p "$out/corpus" "$out/src"

# The codec compiles on its own: its files use only the standard library, Glibc and Model.
# Copy the file list so the build sees exactly these sources as one module.
rm -f "$out/src/"*.swift
cp "$root"/Sources/Model/*.swift "$out/src/"
for f in Wire Constants Messages NetlinkError; do cp "$root/Sources/Netlink/$f.swift" "$out/src/"; done
cp "$root"/Fuzz/NetlinkFuzz/*.swift "$out/src/"

echo "fuzz-netlink: building $out/netlink-fuzz"
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name NetlinkFuzz \
    "$out"/src/*.swift -o "$out/netlink-fuzz"

# Seeds: a route with a multipath attribute, a nexthop, an address, an extended ACK, a DONE.
seed() { printf "$(echo "$2" | tr -d ' \n' | sed 's/\(..\)/\\x\1/g')" > "$out/corpus/seed-$1"; }
seed route   "44000000 1800 0200 2a000000 10000000 02180000 fec80001 00000000 08000f00 fe000000 08000100 0a010200 08000600 64000000 08000500 cb00710a 08000400 02000000"
seed multi   "50000000 1800 0200 01000000 00000000 02100000 fec80001 00000000 08000f00 fe000000 08000100 0a090000 24000900 10000000 02000000 08000500 cb007101 10000000 03000000 08000500 cb007102"
seed nh      "30000000 6800 0200 01000000 00000000 0200c800 00000000 08000100 11000000 08000600 cb00710a 08000500 03000000"
seed addr    "34000000 1400 0200 01000000 00000000 02188000 03000000 08000100 cb007101 08000200 cb007101 0b000300 64756d6d 79300000"
seed extack  "4c000000 0200 0003 07000000 4d000000 9bffffff 34000000 18000506 07000000 4d000000 20000100 4e657874 686f7020 68617320 696e7661 6c696420 67617465 77617900 08000200 2c000000"
seed done    "14000000 0300 0200 2a000000 10000000 00000000"

echo "fuzz-netlink: running for ${seconds}s"
jobs="${FUZZ_JOBS:-1}"
parallel=()
if [ "$jobs" -gt 1 ]; then
    # libFuzzer then writes each worker's output to fuzz-N.log in the current directory.
    cd "$out"
    parallel=(-jobs="$jobs" -workers="$jobs")
fi
"$out/netlink-fuzz" -max_total_time="$seconds" "${parallel[@]}" \
    -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus"
echo "fuzz-netlink: no crash in ${seconds}s"
