#!/usr/bin/env bash
# Runs the README's example block (between the readme-example markers) against a real
# latchkey and Redis, as a user would after ./scripts/run, and checks what it prints.
# Usage: readme_examples.sh <repo root> <latchkey binary>
set -euo pipefail
root=$1
bin=$2
source "$root/scripts/lib/processes.sh"
start_redis

mkdir -p "$work/var/secrets"
"$bin" keys init --dir "$work/var/secrets" >/dev/null
head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' >"$work/var/secrets/admin_api_key"
port=$(free_port)
LATCHKEY_LISTEN="127.0.0.1:$port" LATCHKEY_REDIS_URL="redis://127.0.0.1:$redis_port/0" \
LATCHKEY_SECRETS_DIR="$work/var/secrets" LATCHKEY_ADMIN_API_KEYS_FILE="$work/var/secrets/admin_api_key" \
  "$bin" serve >/dev/null 2>"$work/latchkey.err" &
pids+=($!)
wait_http "http://127.0.0.1:$port/readyz"

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
check '^{"access_token":"'
check '^{"active":true,"client_id":"'
check '"error":"invalid_grant"'
check '^{"active":false}$'
check '^{"failures":5,"locked":true,"retry_after":60}$'
check '"error":"account_locked"'
check '"lockouts":1,"locked":true'
check '^200 200 429 $'
exit $fail
