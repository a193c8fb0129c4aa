# Shared by the load benchmarks (bench/load/run, bench/load/tokens): their own redis-server,
# latchkey and a Node peer of ../shared/peers on free ports, wrk at fixed concurrency, and a
# table of requests/s, p50, p99 and ratios. Source it from the repository root.
#   DURATION (10s) WARMUP (2s) CONNECTIONS (32) WRK_THREADS (1) LATCHKEY_THREADS (2) PEER (1)
root=$PWD
shared="$root/../shared"
export PEERS_WRK="$shared/peers/wrk"
duration=${DURATION:-10s}
warmup=${WARMUP:-2s}
conns=${CONNECTIONS:-32}
wrk_threads=${WRK_THREADS:-1}
threads=${LATCHKEY_THREADS:-2}
key="bench-admin-key-0123456789abcdef0123456789"
auth=(-H "Authorization: Bearer $key")
get=(-s "$PEERS_WRK/get.lua")

[ "${SKIP_BUILD:-0}" = 1 ] || { scripts/install-deps; scripts/build >/dev/null; }

source "$root/scripts/lib/processes.sh"
start_redis
rcli() { redis-cli -p "$redis_port" "$@"; }

# start_latchkey [keys init options]: sets $lk. LK_BIN (build/latchkey) picks the binary,
# LK_NAME (latchkey) its secrets folder and log under $work, LK_DB (0) its Redis database,
# LK_REDIS_URL (the plaintext port) its redis_url.
start_latchkey() {
  local bin=${LK_BIN:-build/latchkey} name=${LK_NAME:-latchkey}
  local dir="$work/secrets"
  [ "$name" = latchkey ] || dir="$work/secrets-$name"
  "$bin" keys init --dir "$dir" "$@" >/dev/null
  lk_port=$(free_port)
  lk="http://127.0.0.1:$lk_port"
  LATCHKEY_LISTEN="127.0.0.1:$lk_port" LATCHKEY_REDIS_URL="${LK_REDIS_URL:-redis://127.0.0.1:$redis_port/${LK_DB:-0}}" \
  LATCHKEY_SECRETS_DIR="$dir" LATCHKEY_ADMIN_API_KEYS="$key" \
  LATCHKEY_THREADS="$threads" "$bin" serve >/dev/null 2>"$work/$name.err" &
  pids+=($!)
  wait_http "$lk/readyz" || { cat "$work/$name.err" >&2; return 1; }
}

# start_peer NAME DB: sets $peer ("" when PEER=0 or node is missing).
start_peer() {
  peer=""
  if [ "${PEER:-1}" != 0 ] && [ -x "$shared/peers/start.sh" ] && command -v node >/dev/null; then
    local port
    port=$(free_port)
    peer="http://127.0.0.1:$port"
    "$shared/peers/start.sh" "$1" --port "$port" --redis-url "redis://127.0.0.1:$redis_port/$2" >"$work/peer.log" 2>&1 &
    pids+=($!)
    wait_http "$peer/hello" || { cat "$work/peer.log" >&2; peer=""; }
  fi
}

declare -A rps p50 p99 bad flows order
n_rows=0
# wrk_call DURATION CONNECTIONS URL [wrk options] [-- script args]: wrk wants the URL
# between its options and the script's arguments.
wrk_call() {
  local d=$1 c=$2 url=$3 opts=() rest=()
  shift 3
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts+=("$1"); shift; done
  [ $# -gt 0 ] && { shift; rest=("$@"); }
  wrk -t"$wrk_threads" -c"$c" -d"$d" "${opts[@]}" "$url" -- "${rest[@]}"
}
measure() {  # name connections url [wrk options] [-- script args]
  local name=$1 c=$2 url=$3 line
  shift 3
  [ "${NO_WARMUP:-0}" = 1 ] || wrk_call "$warmup" "$c" "$url" "$@" >/dev/null 2>&1 || true
  line=$(wrk_call "$duration" "$c" "$url" "$@" | grep '^WRK_RESULT')
  rps[$name]=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$line")
  p50[$name]=$(sed -E 's/.* p50_ms=([0-9.]+).*/\1/' <<<"$line")
  p99[$name]=$(sed -E 's/.* p99_ms=([0-9.]+).*/\1/' <<<"$line")
  bad[$name]=$(sed -E 's/.* non2xx=([0-9]+).*/\1/' <<<"$line")
  flows[$name]=$(sed -nE 's/.* flows_per_s=([0-9.]+).*/\1/p' <<<"$line")
  order[$n_rows]=$name
  n_rows=$((n_rows + 1))
}
print_table() {
  echo
  echo "load benchmark: wrk -t$wrk_threads -c$conns (or -c64 where marked) -d$duration after a $warmup warm-up;"
  echo "latchkey with $threads I/O threads; one machine ($(nproc) cores) shared by wrk, latchkey, redis-server and node;"
  echo "$(date -u +%Y-%m-%dT%H:%MZ)"
  printf '%-36s %10s %8s %8s %7s\n' endpoint req/s p50_ms p99_ms non2xx
  for ((i = 0; i < n_rows; i++)); do
    local name=${order[$i]}
    printf '%-36s %10s %8s %8s %7s\n' "$name" "${rps[$name]}" "${p50[$name]}" "${p99[$name]}" "${bad[$name]}"
  done
  echo
}
ratio() { awk -v a="${rps[$1]:-0}" -v b="${rps[$2]:-0}" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "n/a" }'; }
