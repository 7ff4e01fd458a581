#!/usr/bin/env bash
# Runs every fuzz target for SECONDS_PER_TARGET (60) each, bounded, on the committed
# corpus:
#
#   bash fuzz/run.sh [TARGET...]
#
# Needs the nightly toolchain and cargo-fuzz (`rustup toolchain install nightly`,
# `cargo install cargo-fuzz`); only this script uses nightly, never the build. New inputs
# that cover new paths are added to fuzz/corpus/TARGET (commit the useful ones); a crash
# stops the run with its input in fuzz/artifacts/TARGET, to be turned into a regression
# test (then fixed) before it is committed.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${SECONDS_PER_TARGET:-60}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(request_decoding artifact_reader imported_models config_yaml pipeline_config)
fi
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is not installed (cargo install cargo-fuzz)" >&2; exit 2; }
for target in "${targets[@]}"; do
  echo "== $target (${seconds} s)"
  mkdir -p "corpus/$target"
  cargo +nightly fuzz run "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=262144 -print_final_stats=1 2>&1 \
    | grep -E '^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+==ERROR|SUMMARY)' || true
  # A crash leaves its input in artifacts/TARGET and fails cargo fuzz (its exit status
  # is lost in the pipe): look for the file instead.
  if compgen -G "artifacts/$target/crash-*" > /dev/null || compgen -G "artifacts/$target/oom-*" > /dev/null \
     || compgen -G "artifacts/$target/timeout-*" > /dev/null; then
    echo "$target: a failing input is in fuzz/artifacts/$target" >&2
    exit 1
  fi
done
