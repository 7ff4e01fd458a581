#!/usr/bin/env bash
# Profile-guided optimisation (PGO) of the serving binary: what Dockerfile.serve ships and
# what bench/serve.sh measures.
#
#   bash deploy/pgo.sh [--out DIR] [--bare]
#   bash deploy/pgo.sh --cook RECIPE      (Dockerfile.serve: the instrumented dependencies)
#
# 1. Builds serve in the serving profile (Cargo.toml: release, one codegen unit, fat LTO)
#    with `-Cprofile-generate`, for the host triple named explicitly, so that build
#    scripts and proc macros are not instrumented (target/pgo/instrumented).
# 2. Runs it on 127.0.0.1 (an ephemeral port) over the registry of test fixtures
#    (tests/fixtures/legacy/registry: linear, tree, forest, boosted, naive Bayes, KNN and
#    SVM models) with production settings (API keys, metrics, live drift, the prediction
#    log at 1%), and drives it with wrk (2 threads, 16 connections, PGO_SECONDS, 3 by
#    default, a cell): single records and batches on the native route, KServe V2 and
#    MLflow scoring for iris, and single records or batches of titanic (categorical
#    inputs), diabetes (a forest) and a boosted iris model. Then SIGTERM: the server
#    exits through its graceful shutdown and writes its profile.
# 3. Merges the profile with llvm-profdata (rustup's llvm-tools component, else an
#    llvm-profdata on PATH) and builds serve again with `-Cprofile-use`
#    (target/pgo/optimised), installed into DIR (target/pgo/bin by default).
#
# With --bare, the bench's bare actix-web handler (bench/bare) is built the same way, with
# a profile of its own routes under the same iris loads (native single records and
# batches, KServe V2), so that bench/serve.sh compares two servers compiled alike. Each
# binary is optimised with its own profile only.
#
# --cook RECIPE runs `cargo chef cook` with the instrumented build's flags and target
# directory, so that Dockerfile.serve caches the instrumented dependencies in a layer.
#
# Needs cargo, wrk and llvm-profdata of rustc's LLVM or newer (`rustup component add
# llvm-tools`; an older one on PATH is refused before anything is built). About 10 minutes
# on 2 cores from a cold target directory; every load is bounded by PGO_SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

out=target/pgo/bin
bare=0
cook=
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=$2; shift 2 ;;
    --bare) bare=1; shift ;;
    --cook) cook=$2; shift 2 ;;
    *) echo "usage: deploy/pgo.sh [--out DIR] [--bare] | --cook RECIPE" >&2; exit 2 ;;
  esac
done
seconds=${PGO_SECONDS:-3}

host=$(rustc -vV | sed -n 's/^host: //p')
work=$root/target/pgo
raw=$work/raw
instrumented=(env "RUSTFLAGS=${RUSTFLAGS:-} -Cprofile-generate=$raw"
  "CARGO_TARGET_DIR=$work/instrumented")
packages=(-p serve)
[ $bare = 1 ] && packages+=(-p ferry-bench-bare)

if [ -n "$cook" ]; then
  exec "${instrumented[@]}" cargo chef cook --profile serving --locked --target "$host" \
    --recipe-path "$cook" "${packages[@]}"
fi

profdata=$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata
if [ ! -x "$profdata" ]; then
  profdata=$(command -v llvm-profdata || true)
fi
for tool in wrk "$profdata"; do
  command -v "$tool" > /dev/null || {
    echo "deploy/pgo.sh needs wrk and llvm-profdata (rustup component add llvm-tools)" >&2
    exit 2
  }
done
# rustc writes profiles in its own LLVM's format, which the llvm-profdata of an older LLVM
# (a distribution's, found on PATH) refuses, and only after the whole instrumented run.
want=$(rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
# A tool that does not say its version is given the benefit of the doubt (|| true: with
# pipefail, its failing `--version` would otherwise end the script without a word).
have=$("$profdata" merge --version 2>/dev/null | sed -n 's/.*LLVM version \([0-9]*\).*/\1/p' | head -1) || true
if [ -n "$want" ] && [ -n "$have" ] && [ "$have" -lt "$want" ]; then
  echo "deploy/pgo.sh: $profdata is LLVM $have, older than rustc's LLVM $want, whose" \
    "profiles it cannot read (rustup component add llvm-tools)" >&2
  exit 2
fi

"${instrumented[@]}" cargo build --profile serving --locked --target "$host" "${packages[@]}"
bin=$work/instrumented/$host/serving
rm -rf "$raw"
mkdir -p "$raw"

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
registry=tests/fixtures/legacy/registry
key=$(random_key pgo)

iris_batch=$(records_body "$iris_record" 100)
titanic='{"pclass":3,"sex":"male","sibsp":0,"parch":0,"embarked":"S"}'
diabetes='{"age":59,"sex":2,"bmi":32.1,"bp":101,"s1":157,"s2":93.2,"s3":38,"s4":4,"s5":4.8598,"s6":87}'
diabetes_batch=$(records_body "$diabetes" 20)

# Drives $base with wrk for $1 seconds: POST the body $3 to the path $2. Every request
# must be answered, with a 2xx: a profile of error paths (or of no requests) would
# optimise the wrong code.
load() {
  post_script "$tmp/load.lua" "$key" "$3"
  wrk -t2 -c16 -d"$1s" -s "$tmp/load.lua" "$base$2" > "$tmp/wrk.out"
  if grep -qE 'Non-2xx|Socket errors' "$tmp/wrk.out"; then
    echo "$2 answered errors, or none, under the profiling load:" >&2
    cat "$tmp/wrk.out" >&2
    exit 1
  fi
  echo "  $2: $(grep Requests/sec "$tmp/wrk.out" | tr -s ' ')"
}

# Starts the instrumented binary $1 (arguments after it), its profile written to
# $raw/$1-<pid>.profraw, and waits for its address in $base.
start() {
  local name=$1
  shift
  LLVM_PROFILE_FILE="$raw/$name-%p.profraw" FERRY_API_KEYS="pgo:predict:$key" \
    "$bin/$name" "$@" --bind 127.0.0.1:0 > "$tmp/$name.out" 2> "$tmp/$name.err" &
  pid=$!
  base=$(base_url "$tmp/$name.out")
}

# Stops the server with SIGTERM and waits: the profile is written as it exits.
stop() {
  kill -TERM "$pid"
  wait "$pid" || { echo "$1 did not exit cleanly:" >&2; cat "$tmp/$1.err" >&2; exit 1; }
  pid=
}

start serve --registry "$registry" --mlflow-model iris \
  --prediction-log "$tmp/predictions.jsonl" --prediction-log-sample-rate 0.01
ready=0
for _ in $(seq 100); do "$bin/serve" probe "$base/ready" 2> /dev/null && { ready=1; break; }; sleep 0.1; done
[ $ready = 1 ] || { echo "serve was not ready within 10 s:" >&2; cat "$tmp/serve.err" >&2; exit 1; }
echo "profiling serve at $base"
load $((2 * seconds)) /models/iris/predict "$iris_record"
load $((2 * seconds)) /v2/models/iris/infer "$iris_v2_record"
load "$seconds" /models/iris/predict "$iris_batch"
load "$seconds" /invocations "$iris_mlflow_record"
load "$seconds" /models/titanic-categorical-nb/predict "$titanic"
load "$seconds" /models/diabetes-forest/predict "$diabetes_batch"
load "$seconds" /models/iris-boosting/predict "$iris_record"
stop serve

if [ $bare = 1 ]; then
  start bare-handler --artifact "$registry/iris/1"
  echo "profiling bare-handler at $base"
  load $((2 * seconds)) /models/iris/predict "$iris_record"
  load $((2 * seconds)) /v2/models/iris/infer "$iris_v2_record"
  load "$seconds" /models/iris/predict "$iris_batch"
  stop bare-handler
fi

# Each binary with its own profile; the bare handler in its own target directory, as
# the flags differ.
optimise() { # name package
  "$profdata" merge -o "$work/$1.profdata" "$raw/$1"-*.profraw
  env "RUSTFLAGS=${RUSTFLAGS:-} -Cprofile-use=$work/$1.profdata" \
    "CARGO_TARGET_DIR=$work/optimised-$1" \
    cargo build --profile serving --locked --target "$host" -p "$2"
  install -D -m 0755 "$work/optimised-$1/$host/serving/$1" "$out/$1"
  echo "$out/$1: built with the profile $work/$1.profdata"
}
optimise serve serve
[ $bare = 1 ] && optimise bare-handler ferry-bench-bare
exit 0
