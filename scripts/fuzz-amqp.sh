#!/usr/bin/env bash
# Builds the AMQP frame decoder fuzz target (libFuzzer + AddressSanitizer) and runs it.
#   scripts/fuzz-amqp.sh [SECONDS]     default 30; exits non-zero when the fuzzer finds a crash.
# Environment: FUZZ_OUT (build/corpus directory, default .build/fuzz-amqp), FUZZ_JOBS (parallel workers, default 1).
set -euo pipefail

seconds="${1:-30}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${FUZZ_OUT:-$root/.build/fuzz-amqp}"
mkdir -p "$out/corpus" "$out/src"

# The codec and the state machine use only the standard library; the envelope decoder uses Foundation.
rm -f "$out/src/"*.swift
for f in Wire Frames Methods ConnectionStateMachine OsloNotification; do cp "$root/Sources/Events/$f.swift" "$out/src/"; done
cp "$root"/Fuzz/AMQPFuzz/*.swift "$out/src/"

echo "fuzz-amqp: building $out/amqp-fuzz"
swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name AMQPFuzz \
    "$out"/src/*.swift -o "$out/amqp-fuzz"

# Seeds (a broker's byte stream): a delivery of a small body in two frames, with a heartbeat; a channel.close
# 404; a connection.close 320; a basic.cancel; a content header with every property flag.
seed() { printf "$(echo "$2" | tr -d ' \n' | sed 's/\(..\)/\\x\1/g')" > "$out/corpus/seed-$1"; }
seed deliver "01 0001 0000001c 003c003c 0163 0000000000000001 00 076e657574726f6e 0272 6b ce
              02 0001 0000000e 003c 0000 0000000000000005 8000 00 ce
              03 0001 00000002 6869 ce 03 0001 00000003 7b7d0a ce 08 0000 00000000 ce"
seed chclose "01 0001 00000014 0014 0028 0194 094e4f545f464f554e44 0028 000a ce"
seed close   "01 0000 00000015 000a 0032 0140 10434f4e4e454354494f4e5f464f52434544 0000 0000 ce"
seed cancel  "01 0001 00000008 003c 001e 0263 31 00 ce"
seed table   "01 0001 0000002a 0032 000a 0000 0171 02 0000001d 0178 6c 0000000000000001 0179 41 00000004 7401 6200 017a 46 00000000 ce"
printf '{"oslo.version": "2.0", "oslo.message": "{\\"event_type\\": \\"port.update.end\\", \\"payload\\": {\\"port\\": {}}}"}' > "$out/corpus/seed-oslo"

echo "fuzz-amqp: running for ${seconds}s"
jobs="${FUZZ_JOBS:-1}"
parallel=()
if [ "$jobs" -gt 1 ]; then
    cd "$out"
    parallel=(-jobs="$jobs" -workers="$jobs")
fi
"$out/amqp-fuzz" -max_total_time="$seconds" -max_len=65536 "${parallel[@]}" \
    -print_final_stats=1 -artifact_prefix="$out/" "$out/corpus"
echo "fuzz-amqp: no crash in ${seconds}s"
