#!/usr/bin/env bash
# Runtime conformance of docs/openapi.yaml: a Redis, latchkey, and Prism's validating proxy
# (pinned in tests/openapi/package-lock.json) in front of it; tests/openapi/corpus.py sends a
# request for every documented operation and status through the proxy and fails on any
# response Prism finds outside the document (an undocumented status, field, type or header
# value), on any valid request Prism finds outside it, and on any status other than the one
# the corpus expects. Prism reads a strict copy (tests/openapi/strict.py): a response field the
# document does not name fails too. Usage: tests/openapi/conformance.sh [latchkey binary]. Bounded: every
# wait gives up after 15 s, every request after 10 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-build/latchkey}
source scripts/lib/processes.sh
[ -x tests/openapi/node_modules/.bin/prism ] ||
  (cd tests/openapi && npm ci --silent --no-fund --no-audit >/dev/null)

start_redis
mkdir -p "$work/secrets"
"$bin" keys init --dir "$work/secrets" >/dev/null
admin_key="conformance-admin-key-0123456789abcdef"
lk_port=$(free_port)
LATCHKEY_LISTEN="127.0.0.1:$lk_port" LATCHKEY_REDIS_URL="redis://127.0.0.1:$redis_port/0" \
  LATCHKEY_SECRETS_DIR="$work/secrets" LATCHKEY_ADMIN_API_KEYS="$admin_key" LATCHKEY_THREADS=1 \
  LATCHKEY_TOKEN_ISSUER="http://127.0.0.1:$lk_port" LATCHKEY_SESSION_LIMIT=2 LATCHKEY_MAX_BODY_BYTES=4096 \
  "$bin" serve >"$work/latchkey.out" 2>"$work/latchkey.err" &
pids+=($!)
wait_http "http://127.0.0.1:$lk_port/readyz" || { cat "$work/latchkey.err"; exit 1; }

prism_port=$(free_port)
/usr/bin/python3 tests/openapi/strict.py docs/openapi.yaml "$work/openapi.strict.yaml"
tests/openapi/node_modules/.bin/prism proxy "$work/openapi.strict.yaml" "http://127.0.0.1:$lk_port" \
  --host 127.0.0.1 --port "$prism_port" >"$work/prism.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do
  curl -s -o /dev/null "http://127.0.0.1:$prism_port/healthz" && break
  sleep 0.05
done
curl -s -o /dev/null "http://127.0.0.1:$prism_port/healthz" || { cat "$work/prism.log"; exit 1; }

/usr/bin/python3 tests/openapi/corpus.py "http://127.0.0.1:$prism_port" "$admin_key" "$redis_port" ||
  { echo "--- latchkey log (tail)"; tail -20 "$work/latchkey.err"; exit 1; }
