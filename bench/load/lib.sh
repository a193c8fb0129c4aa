# Shared by the load benchmarks (bench/load/run, bench/load/tokens): their own redis-server,
# latchkey and a Node peer of ../shared/peers on free ports, wrk at fixed concurrency, and a
# table of requests/s, p50, p99 and ratios. Source it from the repository root.
#   DURATION (10s) WARMUP (2s) CONNECTIONS (32) WRK_THREADS (1) LATCHKEY_THREADS (2) PEER (1)
#   PIN (0): 1 pins wrk to core 0 and every server (redis-server, latchkey, the peer, with their
#   threads and children) to core 1 (taskset), so the load generator never takes the servers'
#   core; the numbers are then of one core's servers. Unpinned runs share both cores.
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
# DEBUG HTSTATS from loopback: bench/load/run's memory readings wait for rehashing to end.
REDIS_EXTRA="--enable-debug-command local" start_redis
rcli() { redis-cli -p "$redis_port" "$@"; }
# CLUSTER=1: also a Redis Cluster of CLUSTER_MASTERS (3) masters beside the standalone Redis,
# for a second latchkey (start_latchkey_on_cluster): the same rows on both, in the same run.
if [ "${CLUSTER:-0}" = 1 ]; then
  start_cluster "${CLUSTER_MASTERS:-3}" 0
fi
CLUSTER_MASTERS_SHOWN=${CLUSTER_MASTERS:-3}

# start_latchkey [keys init options]: sets $lk. LK_BIN (build/latchkey) picks the binary,
# LK_NAME (latchkey) its secrets folder and log under $work, LK_DB (0) its Redis database,
# LK_REDIS_URL (the plaintext port) its redis_url, LK_URL_ISSUER=1 its own URL as token_issuer
# (what DPoP proofs name).
start_latchkey() {
  local bin=${LK_BIN:-build/latchkey} name=${LK_NAME:-latchkey}
  local dir="$work/secrets"
  [ "$name" = latchkey ] || dir="$work/secrets-$name"
  "$bin" keys init --dir "$dir" "$@" >/dev/null
  lk_port=$(free_port)
  lk="http://127.0.0.1:$lk_port"
  if [ -n "${LK_URL_ISSUER:-}" ]; then
    local LATCHKEY_TOKEN_ISSUER=$lk
    export LATCHKEY_TOKEN_ISSUER
  fi
  LATCHKEY_LISTEN="127.0.0.1:$lk_port" LATCHKEY_REDIS_URL="${LK_REDIS_URL:-redis://127.0.0.1:$redis_port/${LK_DB:-0}}" \
  LATCHKEY_SECRETS_DIR="$dir" LATCHKEY_ADMIN_API_KEYS="$key" \
  LATCHKEY_THREADS="$threads" "$bin" serve >/dev/null 2>"$work/$name.err" &
  pids+=($!)
  lk_pid=$!
  wait_http "$lk/readyz" || { cat "$work/$name.err" >&2; return 1; }
}

# start_latchkey_on_cluster [keys init options]: a latchkey on the cluster; sets $lkc (and $lk).
start_latchkey_on_cluster() {
  LK_NAME=cluster LK_REDIS_URL="$cluster_url" start_latchkey "$@"
  lkc=$lk
}

# cpu_ticks PID...: their user + system CPU time so far, in clock ticks (/proc/PID/stat).
cpu_ticks() {
  local t=0 pid f
  for pid in "$@"; do
    f=$(cut -d' ' -f14,15 "/proc/$pid/stat" 2>/dev/null) || continue
    t=$((t + ${f% *} + ${f#* }))
  done
  echo "$t"
}
# cpu_pids, cpu_pids_2: while non-empty, measure also records the CPU each set of processes
# spent per request of the measured run (µs; the warm-up not counted) in cpu_us[NAME] and
# cpu_us_2[NAME] (e.g. Redis's and latchkey's).
cpu_pids=()
cpu_pids_2=()
declare -A cpu_us cpu_us_2
per_request_us() {  # ticks rps
  awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v r="$2" -v d="${duration%s}" \
    'BEGIN { n = r * d; if (n > 0) printf "%.1f", t / hz * 1e6 / n; else print "n/a" }'
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
pinned=${PIN:-0}
# pin_servers: every process started so far (and its descendants, every thread) onto core 1.
pin_servers() {
  local queue=("${pids[@]}") p kids
  while [ ${#queue[@]} -gt 0 ]; do
    p=${queue[0]}
    queue=("${queue[@]:1}")
    taskset -apc 1 "$p" >/dev/null 2>&1 || true
    kids=$(pgrep -P "$p" || true)
    for k in $kids; do queue+=("$k"); done
  done
}
wrk_call() {
  local d=$1 c=$2 url=$3 opts=() rest=() pin=()
  shift 3
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do opts+=("$1"); shift; done
  [ $# -gt 0 ] && { shift; rest=("$@"); }
  if [ "$pinned" = 1 ]; then
    pin_servers
    pin=(taskset -c 0)
  fi
  "${pin[@]}" wrk -t"$wrk_threads" -c"$c" -d"$d" "${opts[@]}" "$url" -- "${rest[@]}"
}
measure() {  # name connections url [wrk options] [-- script args]
  local name=$1 c=$2 url=$3 line
  shift 3
  [ "${NO_WARMUP:-0}" = 1 ] || wrk_call "$warmup" "$c" "$url" "$@" >/dev/null 2>&1 || true
  local a0=0 a1=0 b0=0 b1=0
  [ ${#cpu_pids[@]} -eq 0 ] || a0=$(cpu_ticks "${cpu_pids[@]}")
  [ ${#cpu_pids_2[@]} -eq 0 ] || b0=$(cpu_ticks "${cpu_pids_2[@]}")
  line=$(wrk_call "$duration" "$c" "$url" "$@" | grep '^WRK_RESULT')
  [ ${#cpu_pids[@]} -eq 0 ] || a1=$(cpu_ticks "${cpu_pids[@]}")
  [ ${#cpu_pids_2[@]} -eq 0 ] || b1=$(cpu_ticks "${cpu_pids_2[@]}")
  rps[$name]=$(sed -E 's/.* rps=([0-9.]+).*/\1/' <<<"$line")
  p50[$name]=$(sed -E 's/.* p50_ms=([0-9.]+).*/\1/' <<<"$line")
  p99[$name]=$(sed -E 's/.* p99_ms=([0-9.]+).*/\1/' <<<"$line")
  bad[$name]=$(sed -E 's/.* non2xx=([0-9]+).*/\1/' <<<"$line")
  flows[$name]=$(sed -nE 's/.* flows_per_s=([0-9.]+).*/\1/p' <<<"$line")
  [ ${#cpu_pids[@]} -eq 0 ] || cpu_us[$name]=$(per_request_us $((a1 - a0)) "${rps[$name]}")
  [ ${#cpu_pids_2[@]} -eq 0 ] || cpu_us_2[$name]=$(per_request_us $((b1 - b0)) "${rps[$name]}")
  order[$n_rows]=$name
  n_rows=$((n_rows + 1))
}
print_table() {
  echo
  echo "load benchmark: wrk -t$wrk_threads -c$conns (or -c64 where marked) -d$duration after a $warmup warm-up;"
  if [ "$pinned" = 1 ]; then
    echo "latchkey with $threads I/O threads; pinned (PIN=1): wrk on core 0, latchkey, redis-server and node on core 1;"
  else
    echo "latchkey with $threads I/O threads; one machine ($(nproc) cores) shared by wrk, latchkey, redis-server and node;"
  fi
  echo "$(date -u +%Y-%m-%dT%H:%MZ)"
  printf '%-36s %10s %8s %8s %7s\n' endpoint req/s p50_ms p99_ms non2xx
  for ((i = 0; i < n_rows; i++)); do
    local name=${order[$i]}
    printf '%-36s %10s %8s %8s %7s\n' "$name" "${rps[$name]}" "${p50[$name]}" "${p99[$name]}" "${bad[$name]}"
  done
  echo
}
ratio() { awk -v a="${rps[$1]:-0}" -v b="${rps[$2]:-0}" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else printf "n/a" }'; }

# cluster_summary ROW...: for each row measured as "standalone ROW (round r)" and "cluster ROW
# (round r)", the cluster / standalone throughput over all rounds and the CPU per request of
# Redis and of latchkey on each; and, on paper, what one more master adds.
cluster_summary() {
  local row r s c rs rc ls lc
  echo "Redis Cluster ($CLUSTER_MASTERS_SHOWN masters, no replicas) beside standalone Redis, same run, ${ROUNDS:-2} rounds:"
  for row in "$@"; do
    s=0 c=0 rs=0 rc=0 ls=0 lc=0
    for r in $(seq 1 "${ROUNDS:-2}"); do
      s=$(awk -v a="$s" -v b="${rps["standalone $row (round $r)"]}" 'BEGIN{print a+b}')
      c=$(awk -v a="$c" -v b="${rps["cluster $row (round $r)"]}" 'BEGIN{print a+b}')
      rs=$(awk -v a="$rs" -v b="${cpu_us["standalone $row (round $r)"]}" 'BEGIN{print a+b}')
      rc=$(awk -v a="$rc" -v b="${cpu_us["cluster $row (round $r)"]}" 'BEGIN{print a+b}')
      ls=$(awk -v a="$ls" -v b="${cpu_us_2["standalone $row (round $r)"]}" 'BEGIN{print a+b}')
      lc=$(awk -v a="$lc" -v b="${cpu_us_2["cluster $row (round $r)"]}" 'BEGIN{print a+b}')
    done
    awk -v row="$row" -v s="$s" -v c="$c" -v rs="$rs" -v rc="$rc" -v ls="$ls" -v lc="$lc" -v n="${ROUNDS:-2}" 'BEGIN {
      printf "  %-9s cluster / standalone %.2fx; Redis CPU per request %.1f us (standalone) vs %.1f us (all masters);", row, c / s, rs / n, rc / n
      printf " latchkey CPU per request %.1f vs %.1f us;", ls / n, lc / n
      printf " one master, alone on a core, would serve ~%.0f req/s of this (1 s / its CPU per request)\n", (rc > 0 ? 1e6 / (rc / n) : 0)
    }'
  done
}
