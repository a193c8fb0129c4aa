# Shell helpers for scripts that start their own servers (load benchmarks, documentation
# tests): a scratch folder and the pids to stop on exit, free ports, a throwaway Redis.
# Source it; it sets `work` and `pids` and installs an EXIT trap.
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() {
  for _ in $(seq 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "$1 did not come up" >&2; return 1
}
# start_redis: a redis-server without persistence on a free port; sets redis_port. With
# REDIS_TLS=1 it also serves TLS on redis_tls_port, with a CA and a certificate for
# 127.0.0.1 made in $work/tls (redis_tls_ca is the CA's file). REDIS_EXTRA: more redis-server
# options (words).
start_redis() {
  redis_port=$(free_port)
  local tls=()
  if [ "${REDIS_TLS:-0}" = 1 ]; then
    local d="$work/tls"
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj '/CN=bench CA' \
      -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj '/CN=redis' \
      -keyout "$d/redis.key" -out "$d/redis.csr" 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$d/redis.ext"
    openssl x509 -req -in "$d/redis.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
      -extfile "$d/redis.ext" -out "$d/redis.crt" 2>/dev/null
    redis_tls_port=$(free_port)
    redis_tls_ca="$d/ca.crt"
    tls=(--tls-port "$redis_tls_port" --tls-cert-file "$d/redis.crt" --tls-key-file "$d/redis.key"
      --tls-ca-cert-file "$d/ca.crt" --tls-auth-clients no)
  fi
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --maxmemory-policy noeviction \
    --logfile "$work/redis.log" "${tls[@]}" ${REDIS_EXTRA:-} &
  pids+=($!)
  redis_pid=$!
  for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done
}
# wait_rehashed MAX_SECONDS DB...: until no database of the Redis on $redis_port is rehashing a
# resized table (DEBUG HTSTATS names a "rehashing target" until the incremental rehash ends;
# needs REDIS_EXTRA="--enable-debug-command local"), at most MAX_SECONDS. Prints the seconds waited.
wait_rehashed() {
  local max=$1 steps=0 db busy
  shift
  while [ "$steps" -lt $((max * 4)) ]; do
    busy=0
    for db in "$@"; do
      case "$(redis-cli -p "$redis_port" debug htstats "$db")" in *'rehashing target'*) busy=1 ;; esac
    done
    [ "$busy" = 0 ] && break
    sleep 0.25
    steps=$((steps + 1))
  done
  echo $((steps / 4))
}
# start_cluster [MASTERS (3)] [REPLICAS_PER_MASTER (0)]: a Redis Cluster of that many masters
# (and replicas) without persistence on free ports, joined by redis-cli --cluster create;
# sets cluster_url (redis+cluster://, two seeds) and cluster_pids (the redis-server pids).
start_cluster() {
  local masters=${1:-3} replicas=${2:-0} nodes=() port bus i
  cluster_pids=()
  for ((i = 0; i < masters * (1 + replicas); i++)); do
    port=$(free_port)
    bus=$(free_port)
    mkdir -p "$work/cluster-$port"
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --maxmemory-policy noeviction \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-port "$bus" --cluster-node-timeout 1500 \
      --dir "$work/cluster-$port" --logfile "$work/cluster-$port/redis.log" &
    pids+=($!)
    cluster_pids+=($!)
    nodes+=("127.0.0.1:$port")
  done
  for n in "${nodes[@]}"; do
    for _ in $(seq 100); do redis-cli -p "${n##*:}" ping >/dev/null 2>&1 && break; sleep 0.05; done
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas "$replicas" --cluster-yes >"$work/cluster-create.log" 2>&1 ||
    { cat "$work/cluster-create.log" >&2; return 1; }
  for _ in $(seq 200); do
    redis-cli -p "${nodes[0]##*:}" cluster info 2>/dev/null | grep -q 'cluster_state:ok' && break
    sleep 0.05
  done
  cluster_url="redis+cluster://${nodes[0]},${nodes[1]}"
}
# start_latchkey BIN: key rings and an admin API key in $work/var/secrets (the layout
# ./scripts/run makes, so documented examples run as written), `BIN serve` on a free port
# against start_redis's Redis, ready; sets port.
start_latchkey() {
  mkdir -p "$work/var/secrets"
  "$1" keys init --dir "$work/var/secrets" >/dev/null
  "$1" keys admin-key --file "$work/var/secrets/admin_api_key" >/dev/null 2>&1
  port=$(free_port)
  LATCHKEY_LISTEN="127.0.0.1:$port" LATCHKEY_REDIS_URL="redis://127.0.0.1:$redis_port/0" \
  LATCHKEY_SECRETS_DIR="$work/var/secrets" LATCHKEY_ADMIN_API_KEYS_FILE="$work/var/secrets/admin_api_key" \
    "$1" serve >/dev/null 2>"$work/latchkey.err" &
  pids+=($!)
  wait_http "http://127.0.0.1:$port/readyz"
}
# check_answers BLOCK OUTPUT: every answer a documented block shows (its `#   ...` comment
# lines; `…` stands for anything) must be a whole line of OUTPUT. Prints each missing one;
# fails when any is missing or the block shows fewer than MIN_ANSWERS (default 1).
check_answers() {
  local block=$1 out=$2 missing=0 n=0 want regex
  while IFS= read -r line; do
    want=${line#"#   "}
    n=$((n + 1))
    regex=$(printf '%s' "$want" | sed -e 's/[]\/$*.^[]/\\&/g' -e 's/…/.*/g')
    grep -q -- "^$regex\$" <<<"$out" || { echo "MISSING in output: $want"; missing=1; }
  done < <(printf '%s\n' "$block" | grep '^#   ')
  [ "$n" -ge "${MIN_ANSWERS:-1}" ] || { echo "only $n answers shown"; missing=1; }
  answers_checked=$n
  return $missing
}
# npm_deps DIR: the npm packages of DIR (its package-lock.json), unless they are installed.
npm_deps() { [ -d "$1/node_modules" ] || (cd "$1" && npm ci --silent --no-fund --no-audit >/dev/null); }
