#!/usr/bin/env bash
# The README's run command as a user runs it: ./scripts/run in the foreground (here in the
# background of this test, on free ports), then the example requests it prints: readiness,
# and a session created and validated with the admin key it generated. Ctrl-C (SIGINT) must
# stop latchkey and the Redis the script started.
# Usage: run_command.sh <repo root>
set -euo pipefail
cd "$1"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
redis_port=$(free_port)
port=$(free_port)
console_port=$(free_port)
log=$(mktemp)
DEV_REDIS_PORT=$redis_port LATCHKEY_LISTEN=127.0.0.1:$port LATCHKEY_CONSOLE_LISTEN=127.0.0.1:$console_port \
  setsid ./scripts/run >"$log" 2>&1 &
pid=$!
cleanup() { kill -INT -- -"$pid" 2>/dev/null || true; rm -f "$log"; }
trap cleanup EXIT

for _ in $(seq 600); do curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$port/readyz"; echo
grep -q "curl -s http://127.0.0.1:$port/readyz" "$log" || { echo "the printed example is missing"; cat "$log"; exit 1; }
[ "$(redis-cli -p "$redis_port" config get appendonly | tail -1)" = yes ] || { echo "Redis is not append-only"; exit 1; }
[ "$(redis-cli -p "$redis_port" config get maxmemory-policy | tail -1)" = noeviction ] || { echo "Redis evicts"; exit 1; }

KEY=$(cat var/secrets/admin_api_key)
created=$(curl -s -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"user_id":"alice","data":{"role":"admin"}}' "http://127.0.0.1:$port/v1/sessions")
echo "$created"
token=$(sed -nE 's/.*"token":"([^"]+)".*/\1/p' <<<"$created")
[ -n "$token" ] || { echo "no token created"; exit 1; }
validated=$(curl -s -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d "{\"token\":\"$token\"}" "http://127.0.0.1:$port/v1/sessions/validate")
echo "$validated"
grep -q '"user_id":"alice"' <<<"$validated" || { echo "validation failed"; exit 1; }
grep -q "http://127.0.0.1:$port/v1/tokens" "$log" || { echo "the printed token example is missing"; exit 1; }
pair=$(curl -s -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"user_id":"alice"}' "http://127.0.0.1:$port/v1/tokens")
access=$(sed -nE 's/.*"access_token":"([^"]+)".*/\1/p' <<<"$pair")
[ -n "$access" ] || { echo "no access token: $pair"; exit 1; }
verified=$(curl -s -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d "{\"token\":\"$access\"}" "http://127.0.0.1:$port/v1/tokens/verify")
grep -q '"active":true' <<<"$verified" || { echo "token verification failed: $verified"; exit 1; }
curl -s "http://127.0.0.1:$port/.well-known/jwks.json" | grep -q '"keys":\[{' || { echo "no JWKS"; exit 1; }
# The console is on, at the URL printed, and its login takes the generated key.
grep -q "Console: http://127.0.0.1:$console_port/console/" "$log" || { echo "the console URL is not printed"; exit 1; }
curl -sf "http://127.0.0.1:$console_port/console/" | grep -q '<title>latchkey console</title>' ||
  { echo "no console at the printed URL"; exit 1; }
curl -s -H 'Content-Type: application/json' -d "{\"key\":\"$KEY\"}" "http://127.0.0.1:$console_port/console/login" |
  grep -q '"grant":"full"' || { echo "console login with the generated key failed"; exit 1; }

kill -INT -- -"$pid"
for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then echo "scripts/run did not stop on SIGINT"; exit 1; fi
if redis-cli -p "$redis_port" ping >/dev/null 2>&1; then echo "the managed Redis is still running"; exit 1; fi
echo "run command: ok"
