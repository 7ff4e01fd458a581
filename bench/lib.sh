# shellcheck shell=bash
# Helpers the bench scripts source.

# Waits (at most 60 s) for a line "... http://ADDR..." in $1 and prints the base URL.
base_url() {
  for _ in $(seq 600); do
    url=$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$1" 2>/dev/null | head -1 || true)
    [ -n "$url" ] && { echo "$url"; return; }
    sleep 0.1
  done
  echo "no server address in $1" >&2
  cat "$1" >&2
  exit 1
}

# Makes bench/.venv (the reference stacks of bench/reference/requirements.txt) and
# installs the requirements when any of the Python modules $@ does not import there.
# Run from the repository root.
reference_venv() {
  local venv=bench/.venv
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import ${*// /, }" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet -r bench/reference/requirements.txt
  fi
}

# The request bodies the serving benches (and deploy/pgo.sh) send: one iris record in the
# native shape, in MLflow's dataframe_split shape, and as KServe V2 tensors (one FP64
# tensor per feature).
# shellcheck disable=SC2034
iris_record='{"sepal_length":5.1,"sepal_width":3.5,"petal_length":1.4,"petal_width":0.2}'
# shellcheck disable=SC2034
iris_mlflow_record='{"dataframe_split":{"columns":["sepal_length","sepal_width","petal_length","petal_width"],"data":[[5.1,3.5,1.4,0.2]]}}'
# shellcheck disable=SC2034
iris_v2_record='{"inputs":[{"name":"sepal_length","shape":[1],"datatype":"FP64","data":[5.1]},{"name":"sepal_width","shape":[1],"datatype":"FP64","data":[3.5]},{"name":"petal_length","shape":[1],"datatype":"FP64","data":[1.4]},{"name":"petal_width","shape":[1],"datatype":"FP64","data":[0.2]}]}'

# A native batch body: {"records": [...]} holding the JSON record $1, $2 times.
records_body() {
  printf '{"records":['; for i in $(seq "$2"); do [ "$i" -gt 1 ] && printf ','; printf '%s' "$1"; done; printf ']}'
}

# Waits (at most 30 s, looking every 2 ms) until the server at $1 answers /ready with a
# 200; otherwise says so and exits the script.
wait_ready() {
  local deadline=$((SECONDS + 30))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$1/ready")" = 200 ]; do
    [ "$SECONDS" -lt "$deadline" ] || { echo "$1 was not ready within 30 s" >&2; exit 1; }
    sleep 0.002
  done
}

# The CPU time process $1 has used, user and system, in clock ticks (getconf CLK_TCK).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# A random API key: the prefix $1, a dash, 32 hex digits.
random_key() {
  echo "$1-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
}

# Writes to $1 a wrk script that POSTs the JSON body $3 with the API key $2.
post_script() {
  cat > "$1" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer $2"
wrk.body = [==[$3]==]
LUA
}

# For a script that measures one server at a time: sets $tmp to a new temporary
# directory holding iris trained into $tmp/registry (with target/release/train), and
# $pid to empty; at exit, kills the server $pid if set and removes $tmp.
iris_workdir() {
  tmp=$(mktemp -d)
  pid=
  trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
  ./target/release/train --config configs/iris.yaml --registry "$tmp/registry" > /dev/null
}

# Builds train in the release profile and the two servers the benches compare, serve and
# the bare handler: with $1 = 1 through deploy/pgo.sh --bare (as the image ships serve,
# each with a profile of its own routes), else in the serving profile. Sets $bin to the
# directory holding the two servers.
# shellcheck disable=SC2034
build_servers() {
  cargo build --release --locked -p train
  if [ "$1" = 1 ]; then
    bash deploy/pgo.sh --bare --out target/pgo/bin
    bin=target/pgo/bin
  else
    cargo build --profile serving --locked -p serve -p ferry-bench-bare
    bin=target/serving
  fi
}
