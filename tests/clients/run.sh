#!/usr/bin/env bash
# The client libraries' test suites (clients/python with pytest, clients/node with node --test)
# against a real latchkey and Redis, through Prism's validating proxy reading the strict copy of
# docs/openapi.yaml: every request the SDKs make and every answer they get is checked against
# the document, and any violation Prism reports fails the run (its log is scanned at the end).
# Tests that stop Redis or need a server of their own start one beside it (LATCHKEY_BIN).
# Usage: tests/clients/run.sh [latchkey binary] [python|node ...]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=$(realpath "${1:-build/latchkey}")
shift || true
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(python node)
source scripts/lib/processes.sh
npm_deps tests/openapi
npm_deps clients/node

start_redis
mkdir -p "$work/secrets"
"$bin" keys init --dir "$work/secrets" >/dev/null
admin_key="clients-admin-key-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
lk_port=$(free_port)
LATCHKEY_LISTEN="127.0.0.1:$lk_port" LATCHKEY_REDIS_URL="redis://127.0.0.1:$redis_port/0" \
  LATCHKEY_SECRETS_DIR="$work/secrets" LATCHKEY_ADMIN_API_KEYS="$admin_key" LATCHKEY_THREADS=1 \
  LATCHKEY_TOKEN_ISSUER="http://127.0.0.1:$lk_port" \
  "$bin" serve >"$work/latchkey.out" 2>"$work/latchkey.err" &
pids+=($!)
wait_http "http://127.0.0.1:$lk_port/readyz" || { cat "$work/latchkey.err"; exit 1; }

/usr/bin/python3 tests/openapi/strict.py docs/openapi.yaml "$work/openapi.strict.yaml"
prism_port=$(free_port)
tests/openapi/node_modules/.bin/prism proxy "$work/openapi.strict.yaml" "http://127.0.0.1:$lk_port" \
  --host 127.0.0.1 --port "$prism_port" >"$work/prism.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$prism_port/healthz" || { cat "$work/prism.log"; exit 1; }

export LATCHKEY_URL="http://127.0.0.1:$prism_port" LATCHKEY_ADMIN_KEY="$admin_key"
export LATCHKEY_ISSUER="http://127.0.0.1:$lk_port" LATCHKEY_BIN="$bin"
export LATCHKEY_DIRECT_URL="http://127.0.0.1:$lk_port"  # for requests malformed on purpose
status=0
for suite in "${suites[@]}"; do
  case "$suite" in
    python) echo "== clients/python (pytest, through Prism)"
            (cd clients/python && timeout -s INT 300 /usr/bin/python3 -m pytest -q -p no:cacheprovider tests) || status=1 ;;
    node)   echo "== clients/node (node --test, through Prism)"
            (cd clients/node && timeout -s INT 300 node --test --test-concurrency=1 test/*.test.js) || status=1 ;;
    *) echo "unknown suite $suite" >&2; exit 2 ;;
  esac
done
# Prism logs each violation it finds ("Violation: ..."); none may appear.
if grep -iE 'violation' "$work/prism.log" >"$work/violations"; then
  echo "OpenAPI violations seen by Prism while the client suites ran:"
  cat "$work/violations"
  status=1
fi
[ $status -eq 0 ] && echo "clients: ok (${suites[*]}; no OpenAPI violation)"
exit $status
