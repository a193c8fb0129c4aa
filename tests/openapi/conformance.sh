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
read_only_key="conformance-read-only-key-0123456789abcdef"  # corpus.py's READ_ONLY_KEY
lk_port=$(free_port)
LATCHKEY_LISTEN="127.0.0.1:$lk_port" LATCHKEY_REDIS_URL="redis://127.0.0.1:$redis_port/0" \
  LATCHKEY_SECRETS_DIR="$work/secrets" LATCHKEY_ADMIN_API_KEYS="$admin_key,read:$read_only_key" LATCHKEY_THREADS=1 \
  LATCHKEY_TOKEN_ISSUER="http://127.0.0.1:$lk_port" LATCHKEY_SESSION_LIMIT=2 LATCHKEY_MAX_BODY_BYTES=4096 \
  "$bin" serve >"$work/latchkey.out" 2>"$work/latchkey.err" &
pids+=($!)
wait_http "http://127.0.0.1:$lk_port/readyz" || { cat "$work/latchkey.err"; exit 1; }

# A second latchkey with the settings the remaining statuses need: reject_new (409), the OAuth
# endpoints throttled (429), and a token_issuer that publishes no metadata (404).
lk2_port=$(free_port)
LATCHKEY_LISTEN="127.0.0.1:$lk2_port" LATCHKEY_REDIS_URL="redis://127.0.0.1:$redis_port/1" \
  LATCHKEY_SECRETS_DIR="$work/secrets" LATCHKEY_ADMIN_API_KEYS="$admin_key" LATCHKEY_THREADS=1 \
  LATCHKEY_SESSION_LIMIT=1 LATCHKEY_SESSION_LIMIT_POLICY=reject_new \
  LATCHKEY_RATELIMIT_POLICIES="oauth:fixed_window:2/60" LATCHKEY_OAUTH_RATELIMIT_POLICY=oauth \
  "$bin" serve >"$work/latchkey2.out" 2>"$work/latchkey2.err" &
pids+=($!)
wait_http "http://127.0.0.1:$lk2_port/readyz" || { cat "$work/latchkey2.err"; exit 1; }

/usr/bin/python3 tests/openapi/strict.py docs/openapi.yaml "$work/openapi.strict.yaml"
start_prism() {  # upstream-port; sets prism (its URL)
  local p
  p=$(free_port)
  tests/openapi/node_modules/.bin/prism proxy "$work/openapi.strict.yaml" "http://127.0.0.1:$1" \
    --host 127.0.0.1 --port "$p" >"$work/prism-$p.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 300); do
    curl -s -o /dev/null "http://127.0.0.1:$p/healthz" && break
    sleep 0.05
  done
  curl -s -o /dev/null "http://127.0.0.1:$p/healthz" || { cat "$work/prism-$p.log"; exit 1; }
  prism="http://127.0.0.1:$p"
}
start_prism "$lk_port"
first=$prism
start_prism "$lk2_port"
second=$prism

/usr/bin/python3 tests/openapi/corpus.py "$first" "$admin_key" "$redis_port" docs/openapi.yaml "$second" ||
  { echo "--- latchkey log (tail)"; tail -20 "$work/latchkey.err"; exit 1; }
