#!/usr/bin/env bash
# Serving A/B: two serve binaries (a build before a change, one after) and the bare
# actix-web handler, measured in the same run, in interleaved rounds, so the machine's
# drift hits all three alike.
#
#   bash bench/ab.sh OLD_SERVE NEW_SERVE [ROUNDS]
#
# Build the old binary from another commit with the same target directory, e.g.
#   git worktree add /tmp/old <sha> && (cd /tmp/old && CARGO_TARGET_DIR=$PWD/target \
#     cargo build --release -p serve) && cp target/release/serve /tmp/serve-old
# then rebuild the current one (cargo build --release -p train -p serve).
#
# Both serve with API keys; the new one also with the prediction log at 1% (NEW_FLAGS
# overrides its extra flags). Cells: iris with 1 row at concurrency 64 and 16, 100 rows at
# 64; ROUNDS rounds (default 4) of 8 s per server and cell. Prints each round and the
# ratio of summed requests (new/old, new/bare, old/bare), and writes target/bench/ab.md.
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: bench/ab.sh OLD_SERVE NEW_SERVE [ROUNDS]" >&2; exit 2; }
old_bin=$(realpath "$1"); new_bin=$(realpath "$2"); rounds=${3:-4}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
command -v wrk > /dev/null || { echo "wrk is needed (Debian: apt-get install wrk)" >&2; exit 2; }
# The same package set as bench/serve.sh: another set unifies other features and rebuilds polars.
cargo build --release --locked -p train -p serve -p ferry-bench-bare
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2> /dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
./target/release/train --config configs/iris.yaml --registry "$tmp/registry" > /dev/null
new_flags=${NEW_FLAGS:---prediction-log $tmp/predictions.jsonl --prediction-log-sample-rate 0.01}

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
key=$(random_key ab)
FERRY_API_KEYS="ab:predict:$key" FERRY_LOG_FORMAT=text "$old_bin" --registry "$tmp/registry" \
  --bind 127.0.0.1:0 > "$tmp/old.out" 2> /dev/null &
pids+=($!)
# shellcheck disable=SC2086
FERRY_API_KEYS="ab:predict:$key" FERRY_LOG_FORMAT=text "$new_bin" --registry "$tmp/registry" \
  --bind 127.0.0.1:0 $new_flags > "$tmp/new.out" 2> /dev/null &
pids+=($!)
./target/release/bare-handler --artifact "$tmp/registry/iris/1" --bind 127.0.0.1:0 > "$tmp/bare.out" 2>&1 &
pids+=($!)
old=$(base_url "$tmp/old.out"); new=$(base_url "$tmp/new.out"); bare=$(base_url "$tmp/bare.out")

post_script "$tmp/one.lua" "$key" "$iris_record"
post_script "$tmp/hundred.lua" "$key" "$(records_body "$iris_record" 100)"
rate() { wrk -t2 -c"$2" -d8s -s "$3" "$1/models/iris/predict" | awk '/Requests\/sec/ {print $2}'; }

mkdir -p target/bench
{
  echo "Serving A/B, $(date -u +%FT%TZ), $(nproc) cores; old: $old_bin, new: $new_bin ($new_flags)."
  echo
  echo "| cell | rounds | old req/s | new req/s | bare req/s | new/old | new/bare | old/bare |"
  echo "|---|---|---|---|---|---|---|---|"
} > target/bench/ab.md
for cell in "1 row, c=64:64:$tmp/one.lua" "1 row, c=16:16:$tmp/one.lua" "100 rows, c=64:64:$tmp/hundred.lua"; do
  IFS=: read -r name c script <<< "$cell"
  so=0; sn=0; sb=0
  for r in $(seq "$rounds"); do
    o=$(rate "$old" "$c" "$script"); n=$(rate "$new" "$c" "$script"); b=$(rate "$bare" "$c" "$script")
    echo "$name round $r: old $o new $n bare $b"
    so=$(python3 -c "print($so + $o)"); sn=$(python3 -c "print($sn + $n)"); sb=$(python3 -c "print($sb + $b)")
  done
  python3 - "$name" "$rounds" "$so" "$sn" "$sb" >> target/bench/ab.md <<'EOF'
import sys
name, rounds, so, sn, sb = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
print(f"| {name} | {rounds} | {so/rounds:,.0f} | {sn/rounds:,.0f} | {sb/rounds:,.0f} | {sn/so:.2f} | {sn/sb:.2f} | {so/sb:.2f} |")
EOF
done
cat target/bench/ab.md
