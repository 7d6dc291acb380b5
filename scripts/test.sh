#!/usr/bin/env bash
# The one command that runs every sigrelay test (docs/testing.md explains it):
# installs what is missing, builds build/ and runs `meson test` (each gtest case
# counts), then builds the libFuzzer targets with clang + ASan/UBSan in build-fuzz/
# and runs each for a bounded time. It ends with one line
#   tests: N passed, N failed[, N skipped]
# and exits non-zero if anything failed or no test ran.
set -uo pipefail

usage() {
  cat <<'EOF'
usage: scripts/test.sh [--no-fuzz] [--suite NAME]... [-- MESON_TEST_ARGS...]

  --no-fuzz        skip the fuzz stage (quick local runs; CI always fuzzes)
  --suite NAME     run only this meson suite (repeatable); "fuzz" names the fuzz
                   stage, which runs only when no --suite is given or one says fuzz
  -- ARGS          passed to `meson test` as they are (test names, --test-args, ...);
                   then the fuzz stage runs only with --suite fuzz

environment:
  BUILD_DIR=build              build directory for the unit and integration tests
  FUZZ_BUILD_DIR=build-fuzz    clang + sanitizer build directory for the fuzz stage
  SIGRELAY_FUZZ_SECONDS=60     how long each fuzz target runs
EOF
}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root" || exit 1

build_dir=${BUILD_DIR:-build}
fuzz_build_dir=${FUZZ_BUILD_DIR:-build-fuzz}
fuzz_seconds=${SIGRELAY_FUZZ_SECONDS:-60}
build_dir=${build_dir%/}
fuzz_build_dir=${fuzz_build_dir%/}

no_fuzz=0
suites=()
meson_extra=()
while (($#)); do
  case $1 in
    --no-fuzz) no_fuzz=1; shift ;;
    --suite)
      if (($# < 2)); then echo "test.sh: --suite needs a name" >&2; exit 2; fi
      suites+=("$2"); shift 2 ;;
    --suite=*) suites+=("${1#--suite=}"); shift ;;
    -h | --help) usage; exit 0 ;;
    --) shift; meson_extra=("$@"); break ;;
    *) echo "test.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

if ! [[ "$fuzz_seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "test.sh: SIGRELAY_FUZZ_SECONDS must be a positive number of seconds, not '$fuzz_seconds'" >&2
  exit 2
fi

# Which stages run: everything by default; with --suite or test names after --,
# what was named, and the fuzz stage only when "fuzz" is one of the suites.
meson_suites=()
want_fuzz=1
((${#meson_extra[@]})) && want_fuzz=0
if ((${#suites[@]})); then
  want_fuzz=0
  for s in "${suites[@]}"; do
    if [[ "$s" == fuzz ]]; then want_fuzz=1; else meson_suites+=("$s"); fi
  done
fi
want_meson=1
if ((${#suites[@]})) && ((${#meson_suites[@]} == 0)) && ((${#meson_extra[@]} == 0)); then
  want_meson=0
fi
((no_fuzz)) && want_fuzz=0

python=${PYTHON:-python3}
summarise=(env "$python" "$root/scripts/lib/summarise_tests.py")

# Step logs stay next to the build directory so a failure can be read in full later;
# only their tail is printed.
if [[ "$build_dir" = /* ]]; then log_dir="${build_dir}-logs"; else log_dir="$root/${build_dir}-logs"; fi
mkdir -p "$log_dir" || exit 1
records="$log_dir/records.tsv"
: >"$records"

record() { # suite name PASS|FAIL|SKIP [detail]
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >>"$records"
}

# Shows the part of a failed step's log that explains it: from ninja's first
# "FAILED:" on if there is one, else the end; colour codes stripped.
show_log() { # log
  local first
  first=$(grep -n -m1 '^FAILED: ' "$1" | cut -d: -f1)
  if [[ -n "$first" ]]; then
    tail -n "+$first" "$1" | head -n 80
  else
    tail -n 60 "$1"
  fi | sed -e $'s/\x1b\\[[0-9;]*[mK]//g' -e 's/^/    | /'
}

# Runs a command with its output in a log file; on failure shows the log.
step() { # title log command...
  local title=$1 log=$2 rc=0
  shift 2
  echo "==> $title"
  "$@" >"$log" 2>&1 || rc=$?
  if ((rc != 0)); then
    echo "    FAILED (exit $rc): $*"
    show_log "$log"
    echo "    full log: $log"
  fi
  return "$rc"
}

meson_ran=0

run_meson_stage() {
  local configure=(meson setup "$build_dir")
  if [[ -f "$build_dir/meson-private/coredata.dat" ]]; then
    configure=(meson setup --reconfigure "$build_dir")
  fi
  if ! step "configure $build_dir" "$log_dir/configure.log" "${configure[@]}"; then
    record build "configure $build_dir" FAIL "see $log_dir/configure.log"
    return
  fi
  if ! step "build $build_dir" "$log_dir/build.log" ninja -C "$build_dir"; then
    record build "build $build_dir" FAIL "see $log_dir/build.log"
    return
  fi
  "${summarise[@]}" clean "$build_dir"
  local args=(-C "$build_dir" --no-rebuild --print-errorlogs)
  local s
  for s in "${meson_suites[@]}"; do args+=(--suite "$s"); done
  echo "==> meson test ${args[*]}${meson_extra[*]:+ ${meson_extra[*]}}"
  # Failures are counted from meson's logs below, not from this exit code.
  meson test "${args[@]}" "${meson_extra[@]}" || true
  meson_ran=1
}

configure_fuzz_build() {
  local opts=(-Dfuzz=true '-Db_sanitize=address,undefined' -Db_lundef=false -Dbench=disabled)
  if [[ -f "$fuzz_build_dir/meson-private/coredata.dat" ]]; then
    step "configure $fuzz_build_dir" "$log_dir/fuzz-configure.log" \
      meson setup --reconfigure "$fuzz_build_dir" "${opts[@]}"
  else
    step "configure $fuzz_build_dir (clang, ASan+UBSan)" "$log_dir/fuzz-configure.log" \
      env CC=clang CXX=clang++ meson setup "$fuzz_build_dir" "${opts[@]}"
  fi
}

# Prints the part of a fuzzer log that explains a failure: from the sanitizer's or
# libFuzzer's first report line on, at most 80 lines.
show_fuzz_failure() { # log
  local first
  first=$(grep -n -m1 -E '==[0-9]+==ERROR|runtime error:|ALARM:|libFuzzer: (timeout|out-of-memory|deadly signal|fuzz target exited)' "$1" | cut -d: -f1)
  if [[ -n "$first" ]]; then
    tail -n "+$first" "$1" | head -n 80 | sed 's/^/    | /'
  else
    tail -n 40 "$1" | sed 's/^/    | /'
  fi
}

run_fuzzer() { # name binary
  local name=$1 bin=$2 rc=0
  local log="$log_dir/fuzz-$name.log"
  local artifacts="$log_dir/fuzz-artifacts"
  local work seeds=0
  mkdir -p "$artifacts"
  # libFuzzer adds what it finds to the corpus directory: give it a copy of the
  # seeds so the repository is never written to.
  work=$(mktemp -d "${TMPDIR:-/tmp}/sigrelay-$name.XXXXXX") || {
    record fuzz "$name" FAIL "mktemp failed"
    return
  }
  if [[ -d tests/corpus ]]; then
    cp -R tests/corpus/. "$work/"
    seeds=$(find "$work" -type f | wc -l)
  fi
  local extra=()
  [[ -f "tests/fuzz/$name.dict" ]] && extra+=("-dict=tests/fuzz/$name.dict")

  echo "==> fuzz $name for ${fuzz_seconds}s ($seeds seeds from tests/corpus)"
  # UBSan only reports and carries on unless told to halt, which libFuzzer would
  # not see as a failure. The outer timeout catches a target that hangs outside
  # libFuzzer's own per-input -timeout.
  ASAN_OPTIONS="detect_leaks=1:strict_string_checks=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}" \
    timeout -k 30 "$((fuzz_seconds + 300))" "$bin" \
      -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$artifacts/$name-" -print_final_stats=1 \
      "${extra[@]}" "$work" >"$log" 2>&1 || rc=$?
  rm -rf "$work"

  if ((rc == 0)); then
    local done_line
    done_line=$(grep -m1 -E '^Done [0-9]+ runs' "$log" || true)
    echo "    ok: ${done_line:-finished}"
    record fuzz "$name" PASS
    return
  fi
  local artifact
  artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
  local what="exit $rc"
  ((rc == 124 || rc == 137)) && what="hung past $((fuzz_seconds + 300))s and was killed"
  echo "    FAILED ($what)"
  show_fuzz_failure "$log"
  echo "    full log: $log"
  if [[ -n "$artifact" ]]; then
    echo "    crash input: $artifact"
    echo "    reproduce:   $bin $artifact"
    record fuzz "$name" FAIL "$what, input kept at $artifact"
  else
    record fuzz "$name" FAIL "$what, see $log"
  fi
}

run_fuzz_stage() {
  if ! configure_fuzz_build; then
    record fuzz "configure $fuzz_build_dir" FAIL "see $log_dir/fuzz-configure.log"
    return
  fi
  local names=() paths=() name path
  while IFS=$'\t' read -r name path; do
    names+=("$name")
    paths+=("$path")
  done < <("${summarise[@]}" fuzz-targets "$fuzz_build_dir")
  if ((${#names[@]} == 0)); then
    record fuzz "targets" FAIL "no executable defined in tests/fuzz/meson.build"
    return
  fi
  if ! step "build ${names[*]}" "$log_dir/fuzz-build.log" \
    meson compile -C "$fuzz_build_dir" "${names[@]}"; then
    for name in "${names[@]}"; do
      record fuzz "$name" FAIL "build failed, see $log_dir/fuzz-build.log"
    done
    return
  fi
  local i
  for i in "${!names[@]}"; do
    run_fuzzer "${names[$i]}" "${paths[$i]}"
  done
}

if ! step "dependencies (scripts/setup-deps.sh)" "$log_dir/setup-deps.log" \
  bash "$root/scripts/setup-deps.sh"; then
  # Carry on: what is missing may not be needed by the suites asked for, and the
  # failure below still fails the run.
  record build "setup-deps" FAIL "see $log_dir/setup-deps.log"
fi

((want_meson)) && run_meson_stage
((want_fuzz)) && run_fuzz_stage

report=(report --records "$records")
((meson_ran)) && report+=(--meson "$build_dir")
"${summarise[@]}" "${report[@]}"
