# Ferry's entry points. `just --list` shows them by group.

set shell := ["bash", "-euo", "pipefail", "-c"]

# List the recipes.
default:
    @just --list

# Check formatting.
[group('check')]
fmt:
    cargo fmt --all --check

# Lint every target; warnings are errors.
[group('check')]
lint:
    cargo clippy --workspace --all-targets --locked -- -D warnings

# Build the API docs; warnings are errors.
[group('check')]
doc:
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps

# Build the book (docs/) into target/book, checking its links (needs mdbook and
# mdbook-linkcheck2: `cargo install mdbook mdbook-linkcheck2 --locked`).
[group('check')]
book:
    mdbook build docs

# Dependency-direction, license and source checks (needs cargo-deny; `cargo deny check`
# adds the advisories, which need network access to the advisory database).
[group('check')]
deny:
    cargo deny --log-level error check bans licenses sources

# Everything CI runs, cheapest first.
[group('check')]
ci:
    bash .ci/run

# Run the tests (nextest), then the doctests nextest skips.
[group('test')]
test:
    cargo nextest run --workspace
    cargo test --doc --workspace

# Only the end-to-end tests (train -> artifact -> serve over HTTP).
[group('test')]
e2e:
    cargo build --workspace
    cargo nextest run -p ferry-tests

# Load-test the release server on loopback (needs wrk).
[group('test')]
bench:
    bash bench/load.sh

# Serving benchmark against a bare actix-web handler and FastAPI + scikit-learn, same run
# (needs wrk and python3; `--quick`, `--no-python`, `--mlflow`, `--no-pgo`; `--control`
# puts a second bare handler in Ferry's place). Pool runs with `python3 bench/rounds.py`.
[group('test')]
bench-serve *ARGS:
    bash bench/serve.sh {{ARGS}}

# The saturated p99 with the load generator on the server's cores and on a core of its
# own, Ferry and the bare handler each built with and without PGO (needs wrk and taskset;
# ROUNDS and ROUND_SECONDS in the environment, the script takes no arguments).
[group('test')]
bench-tail:
    bash bench/tail.sh

# Training benchmark on diamonds against scikit-learn, same run (needs python3).
[group('test')]
bench-train *ARGS:
    bash bench/train.sh {{ARGS}}

# Cross-validated quality against scikit-learn on the same folds (bench/cv.sh).
[group('test')]
bench-cv *ARGS:
    bash bench/cv.sh {{ARGS}}

# The object-store registry against the local one: publish, cold and warm start
# (bench/object_store.sh; needs tests/.venv with moto, as .ci/run installs it).
[group('test')]
bench-store:
    bash bench/object_store.sh

# What MLflow tracking adds to the iris pipeline, against a real mlflow server on
# loopback (bench/mlflow.sh; needs tests/.venv with mlflow, as .ci/run installs it).
[group('test')]
bench-mlflow:
    bash bench/mlflow.sh

# Criterion benches of decode + validate + preprocess + predict and of bundle loading.
[group('test')]
bench-predict:
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --release --locked -p train
    rm -rf target/bench/registry
    for c in iris titanic diamonds_forest diamonds_boosting; do
      ./target/release/train --config "configs/$c.yaml" --registry target/bench/registry > /dev/null
    done
    FERRY_BENCH_REGISTRY="$PWD/target/bench/registry" cargo bench --locked -p serve --bench inference

# Tree inference against LightGBM, ONNX Runtime, treelite and lleaves, and the random
# forest against scikit-learn (bench/trees.sh; `--seconds S` per cell).
[group('test')]
bench-trees *ARGS:
    bash bench/trees.sh {{ARGS}}

# The criterion benches of the packed tree layout, one group per layout decision.
[group('test')]
bench-layout:
    cargo bench --locked -p ferry-core --bench trees

# Flamegraphs of the native, V2 and MLflow routes under load (needs perf and inferno).
[group('test')]
profile SECONDS="4":
    bash bench/profile.sh {{SECONDS}}

# Instructions and code lines a request, Ferry against the bare handler, under callgrind
# (needs valgrind); `just instructions --pgo` measures the PGO builds the image ships.
[group('test')]
instructions *ARGS:
    bash bench/instructions.sh {{ARGS}}

# Every fuzz target for 60 s on the committed corpus (needs nightly and cargo-fuzz).
[group('test')]
fuzz *TARGETS:
    bash fuzz/run.sh {{TARGETS}}

# Review changed insta snapshots (needs cargo-insta).
[group('test')]
snap:
    cargo insta review

# Train the pipeline CONFIG into the registry.
[group('run')]
train CONFIG="configs/iris.yaml":
    cargo run --release -p train -- --config {{CONFIG}}

# Check the pipeline CONFIG without training.
[group('run')]
validate CONFIG:
    cargo run --release -p train -- validate {{CONFIG}}

# The quick start in one command: train every example config into artifacts/, then serve
# them all on 127.0.0.1:8080 without API keys (for your own machine).
[group('run')]
demo:
    cargo run --release -p train -- examples
    cargo run --release -p serve -- --no-auth

# Serve every model of the registry on 127.0.0.1:8080.
[group('run')]
serve *ARGS:
    cargo run --release -p serve -- {{ARGS}}

# The server as the serve image builds it, with profile-guided optimisation (deploy/pgo.sh;
# needs wrk and `rustup component add llvm-tools`): target/pgo/bin/serve.
[group('ship')]
serve-pgo:
    bash deploy/pgo.sh

# Build the serve image (needs a Docker engine); tagged with the version and git sha.
[group('ship')]
image-serve tag="ferry-serve:dev":
    docker build -f Dockerfile.serve --build-arg VERSION=$(cargo pkgid -p serve | sed 's/.*[#@]//') --build-arg GIT_SHA=$(git rev-parse HEAD) -t {{tag}} .

# Build the train image (needs a Docker engine); tagged with the version and git sha.
[group('ship')]
image-train tag="ferry-train:dev":
    docker build -f Dockerfile.train --build-arg VERSION=$(cargo pkgid -p train | sed 's/.*[#@]//') --build-arg GIT_SHA=$(git rev-parse HEAD) -t {{tag}} .

# Push both images (built by image-serve and image-train with their default tags) to a registry.
[group('ship')]
push registry="ghcr.io/ferry-ml" version="dev":
    docker tag ferry-serve:dev {{registry}}/ferry-serve:{{version}}
    docker tag ferry-train:dev {{registry}}/ferry-train:{{version}}
    docker push {{registry}}/ferry-serve:{{version}}
    docker push {{registry}}/ferry-train:{{version}}

# Apply the dev overlay to the current kubectl context (namespace ferry-dev).
[group('ship')]
deploy-dev:
    kubectl apply -k deploy/k8s/overlays/dev
    kubectl -n ferry-dev rollout status deployment/ferry-serve --timeout=120s

# Start train, serve, Prometheus and Grafana with docker compose (FERRY_API_KEYS must be set).
[group('ship')]
compose-up:
    docker compose -f deploy/compose/compose.yaml up -d
