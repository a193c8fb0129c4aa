#!/usr/bin/env bash
# Runs the README's example block (between the readme-example markers) against a real
# latchkey and Redis, as a user would after ./scripts/run, and checks what it prints.
# Usage: readme_examples.sh <repo root> <latchkey binary>
set -euo pipefail
root=$1
bin=$2
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --logfile "$work/redis.log" &
pids+=($!)
for _ in $(seq 100); do redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.05; done

mkdir -p "$work/var/secrets"
"$bin" keys init --dir "$work/var/secrets" >/dev/null
head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$work/var/secrets/admin_api_key"
port=$(free_port)
LATCHKEY_LISTEN="127.0.0.1:$port" LATCHKEY_REDIS_URL="redis://127.0.0.1:$redis_port/0" \
LATCHKEY_SECRETS_DIR="$work/var/secrets" LATCHKEY_ADMIN_API_KEYS_FILE="$work/var/secrets/admin_api_key" \
  "$bin" serve >/dev/null 2>"$work/latchkey.err" &
pids+=($!)
for _ in $(seq 200); do curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.05; done

sed -n '/<!-- readme-example:start -->/,/<!-- readme-example:end -->/p' "$root/README.md" \
  | sed '/^<!--/d; /^```/d' | sed "s#http://127.0.0.1:8080#http://127.0.0.1:$port#g" >"$work/example.sh"
[ -s "$work/example.sh" ] || { echo "no example block in README.md"; exit 1; }
out=$(cd "$work" && bash -euo pipefail example.sh 2>&1)
echo "$out"

fail=0
check() { grep -q -- "$1" <<<"$out" || { echo "MISSING in output: $1"; fail=1; }; }
check '"user_id":"alice"'
check '"data":{"role":"admin"}'
check '"sessions":\[{'
check '^204$'
check '"error":"invalid_session"'
check '"active":true,"claims":{"iss":"latchkey","sub":"alice"'
check '"tenant":"acme"'
check '^{"access_token":"ey'
check '"refresh_families":1'
check '"error":"invalid_token"'
check '"kty":"OKP","crv":"Ed25519"'
exit $fail
