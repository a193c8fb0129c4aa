#!/usr/bin/env bash
# Runs the README's example block (between the readme-example markers) against a real
# latchkey and Redis, as a user would after ./scripts/run, and checks what it prints.
# Usage: readme_examples.sh <repo root> <latchkey binary>
set -euo pipefail
root=$1
bin=$2
source "$root/scripts/lib/processes.sh"
start_redis
start_latchkey "$bin"

sed -n '/<!-- readme-example:start -->/,/<!-- readme-example:end -->/p' "$root/README.md" \
  | sed '/^<!--/d; /^```/d' | sed "s#http://127.0.0.1:8080#http://127.0.0.1:$port#g" >"$work/example.sh"
[ -s "$work/example.sh" ] || { echo "no example block in README.md"; exit 1; }
out=$(cd "$work" && bash -euo pipefail example.sh 2>&1)
echo "$out"

fail=0
# Every answer the README shows under a call, then the finer checks below.
MIN_ANSWERS=17 check_answers "$(cat "$work/example.sh")" "$out" || fail=1
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
check '"nonce":"n-0S6_WzA2Mj","amr":\["pwd","otp"\]'
check '^{"sub":"alice","email":"alice@example.com","email_verified":true}$'
exit $fail
