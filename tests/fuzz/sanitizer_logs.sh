#!/usr/bin/env bash
# Runs a command whose child processes are sanitizer-instrumented (the integration tier
# starts the proxy binary) and fails when any of them wrote a sanitizer report:
#   sanitizer_logs.sh LOG_DIR COMMAND [ARGS...]
# A child's report may not fail the test that started it (a proxy killed at teardown, a
# leak reported at exit, an error in a process whose exit status nobody reads), so ASan,
# LSan and UBSan write their reports to LOG_DIR/report.<pid> instead of stderr, and this
# script prints every report and fails if there is one.
set -uo pipefail

if [ "$#" -lt 2 ]; then
  echo "usage: sanitizer_logs.sh LOG_DIR COMMAND [ARGS...]" >&2
  exit 2
fi
logs="$1"
shift
rm -rf "$logs"
mkdir -p "$logs"
# One path for all three: in a binary with both runtimes the flag parsed last wins.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$logs/report"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$logs/report"

"$@"
rc=$?

shopt -s nullglob
reports=("$logs"/*)
if [ "${#reports[@]}" -gt 0 ]; then
  for report in "${reports[@]}"; do
    echo "=== sanitizer report $report"
    cat "$report"
  done
  echo "sanitizer_logs.sh: ${#reports[@]} sanitizer report(s) from child processes (above)" >&2
  [ "$rc" -ne 0 ] || rc=1
fi
exit "$rc"
