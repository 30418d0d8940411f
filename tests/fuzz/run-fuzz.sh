#!/bin/sh
# run-fuzz.sh FUZZER CORPUS [LIBFUZZER-FLAG...]: fuzzes for QUIPU_FUZZ_SECONDS
# (default 60) from a copy of the seed corpus, so new inputs never land in the
# source tree, and prints libFuzzer's closing statistics, named after the
# fuzzer.
set -eu
fuzzer=$1
seeds=$2
shift 2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
"$fuzzer" -max_total_time="${QUIPU_FUZZ_SECONDS:-60}" -print_final_stats=1 \
  -artifact_prefix="$work/" "$@" "$work/corpus" "$seeds" 2>"$work/log" || {
  tail -n 60 "$work/log" >&2
  exit 1
}
# Named after the target (at the end, so the lines still start as CI looks
# for them): the suite runs more than one.
grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$work/log" |
  sed "s/\$/  ($(basename "$fuzzer"))/" || true
