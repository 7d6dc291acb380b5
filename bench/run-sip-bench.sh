#!/usr/bin/env bash
# The command behind the parser/rewriter figures in docs/benchmarks.md:
# a release build of bench/sip_bench, five repetitions, medians reported,
# and the instruction count per message from callgrind (repeatable on a
# busy machine, unlike wall time). Prints the load average first: wall
# times on a shared machine are only worth what the load lets them be.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
dir=${BUILD_DIR:-build-release}
[[ -f "$dir/build.ninja" ]] || meson setup "$dir" --buildtype=release >/dev/null
ninja -C "$dir" bench/sip_bench >/dev/null
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
"$dir/bench/sip_bench" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
  --benchmark_min_time=0.5 2>/dev/null | grep -E "^(Benchmark|BM_.*_median)"
if command -v valgrind >/dev/null; then
  ninja -C "$dir" bench/sip_instruction_loop >/dev/null
  echo
  echo "instructions per operation (callgrind, release build):"
  echo "  (the AVX2 copy of the header split where the CPU has it; -baseline: its SSE2 copy)"
  for op in parse-invite parse-302 parse-invite-relay parse-302-relay parse-invite-relay-baseline \
            parse-302-relay-baseline rewrite-invite rewrite-302; do
    counts=()
    for n in 2000 4000; do
      out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$dir/bench/sip_instruction_loop" "$op" "$n" \
              2>&1 >/dev/null | grep Collected)
      counts+=("${out##* }")
    done
    echo "  $op: $(( (counts[1] - counts[0]) / 2000 ))"
  done
fi
