#!/usr/bin/env bash
# One bounded libFuzzer run, as the meson test suite "fuzz" runs it:
#   run_fuzz.sh TARGET_BINARY CORPUS_DIR SECONDS ARTIFACT_DIR [libFuzzer options...]
# or, for an operator running the targets longer than the suite does, each built target in
# turn (or only the TARGETs named, e.g. entry_codec), with its seed corpus and dictionary:
#   run_fuzz.sh --seconds N [--build DIR] [TARGET...]
# DIR is the build holding the targets, by default build-san (CI's), else build-fuzz, relative
# to the working directory (the repository root). Each target works on a copy of its corpus
# and keeps what it finds in DIR/tests/fuzz/artifacts/TARGET; exit 1 if any target failed.
# The target first replays every seed in CORPUS_DIR (regression inputs included), then
# fuzzes for SECONDS. It works on a copy of the corpus, so the repository's seeds are never
# changed. Any crash, sanitizer report, timeout or out-of-memory fails the test; the input is
# kept in ARTIFACT_DIR and its path printed with the commands to reproduce it and to keep it
# as a regression seed. The full libFuzzer output is ARTIFACT_DIR/<target>.log.
set -euo pipefail

usage() {
  echo "usage: run_fuzz.sh TARGET_BINARY CORPUS_DIR SECONDS ARTIFACT_DIR [libFuzzer options...]" >&2
  echo "       run_fuzz.sh --seconds N [--build DIR] [TARGET...]" >&2
  exit 2
}

if [ "${1:-}" = "--seconds" ]; then
  fuzz="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  seconds="${2:-}" build=""
  [[ "$seconds" =~ ^[1-9][0-9]*$ ]] || usage
  shift 2
  if [ "${1:-}" = "--build" ]; then
    [ "$#" -ge 2 ] || usage
    build="$2"
    shift 2
  fi
  if [ -z "$build" ]; then
    build="build-fuzz"
    compgen -G "build-san/tests/fuzz/fuzz_*" >/dev/null && build="build-san"
  fi
  bin="$build/tests/fuzz"
  targets=("$@")
  if [ "${#targets[@]}" -eq 0 ]; then
    for exe in "$bin"/fuzz_*; do
      [ -x "$exe" ] && [ -f "$exe" ] && targets+=("$(basename "${exe#"$bin"/fuzz_}")")
    done
  fi
  if [ "${#targets[@]}" -eq 0 ]; then
    echo "run_fuzz.sh: no fuzz targets built in $bin (meson setup $build -Dfuzz=true, see tests/fuzz/README.md)" >&2
    exit 2
  fi
  failed=0
  for target in "${targets[@]}"; do
    [ -x "$bin/fuzz_$target" ] || { echo "run_fuzz.sh: $bin/fuzz_$target is not built" >&2; exit 2; }
    options=()
    [ -f "$fuzz/$target.dict" ] && options+=("-dict=$fuzz/$target.dict")
    "${BASH_SOURCE[0]}" "$bin/fuzz_$target" "$fuzz/corpus/$target" "$seconds" \
      "$bin/artifacts/$target" "${options[@]}" || failed=1
  done
  exit "$failed"
fi
[ "$#" -ge 4 ] || usage
binary="$1" corpus="$2" seconds="$3" artifacts="$4"
shift 4
name="$(basename "$binary")"
target="${name#fuzz_}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$artifacts"
cp -r "$corpus"/. "$work/corpus/"
# Inputs from an earlier failed run would otherwise be mistaken for this run's.
rm -f "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-* \
      "$artifacts"/malloc-limit-* "$artifacts"/slow-unit-*
log="$artifacts/$name.log"

rc=0
# -timeout: one input taking this long is a hang. Memory: ASan's hard_rss_limit_mb instead of
# libFuzzer's -rss_limit_mb, whose report first prints a heap profile that can take many
# minutes on a big ASan heap before the input is saved; ASan's limit saves it at once (as a
# crash-*). The limit is well above what any target needs, below what would starve the CI
# machine; -malloc_limit_mb catches a single huge allocation with its stack. At the lowest
# CPU priority: in CI it runs beside the integration tier, whose timing matters more; a
# time-bounded run only gets fewer executions, never longer.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}hard_rss_limit_mb=2048"
nice -n 19 "$binary" -max_total_time="$seconds" -timeout=20 -rss_limit_mb=0 -malloc_limit_mb=1024 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" "$@" "$work/corpus" >"$log" 2>&1 || rc=$?

if [ "$rc" -eq 0 ]; then
  # The seed count after replay and the final statistics, for the test log.
  grep -E '^#[0-9]+\s+INITED|^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' \
    "$log" || true
  echo "$name: no failure in ${seconds}s (log: $log)"
  exit 0
fi

tail -n 60 "$log"
echo
echo "$name FAILED (exit $rc); full log: $log"
shopt -s nullglob
inputs=("$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/timeout-* "$artifacts"/oom-*
        "$artifacts"/malloc-limit-*)
if [ "${#inputs[@]}" -eq 0 ]; then
  echo "no input was saved (a failure while loading the corpus?): see the log above"
fi
for input in "${inputs[@]}"; do
  echo "failing input: $input ($(stat -c %s "$input") bytes)"
  echo "  base64: $(head -c 4096 "$input" | base64 -w0)"
  echo "  reproduce: $binary $input"
  echo "  once fixed, keep it as a regression seed:"
  echo "    cp $input tests/fuzz/corpus/$target/regress-<what-it-broke>"
done
exit 1
