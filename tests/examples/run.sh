#!/usr/bin/env bash
# The example apps' end-to-end tests: Redis, latchkey, the app as its README starts it, then
# tests/examples/e2e.py over real HTTP with real cookies. Usage: run.sh <repo root> <latchkey binary> [fastapi|express ...]
set -euo pipefail
root=$(realpath "$1")
bin=$(realpath "$2")
shift 2
apps=("$@")
[ ${#apps[@]} -gt 0 ] || apps=(fastapi express)
source "$root/scripts/lib/processes.sh"
npm_deps "$root/examples/express-login"
start_redis
start_latchkey "$bin"
key=$(cat "$work/var/secrets/admin_api_key")
status=0
for a in "${apps[@]}"; do
  app_port=$(free_port)
  case "$a" in
    fastapi) (cd "$root/examples/fastapi-login" && PYTHONPATH="$root/clients/python" LATCHKEY_URL="http://127.0.0.1:$port" \
               LATCHKEY_ADMIN_KEY_FILE="$work/var/secrets/admin_api_key" \
               /usr/bin/python3 -m uvicorn app:app --host 127.0.0.1 --port "$app_port" >"$work/$a.log" 2>&1) & ;;
    express) (cd "$root/examples/express-login" && LATCHKEY_URL="http://127.0.0.1:$port" PORT="$app_port" \
               LATCHKEY_ADMIN_KEY_FILE="$work/var/secrets/admin_api_key" node app.js >"$work/$a.log" 2>&1) & ;;
    *) echo "unknown app $a" >&2; exit 2 ;;
  esac
  pids+=($!)
  echo "== examples/$a-login"
  wait_http "http://127.0.0.1:$app_port/" || { status=1; tail -20 "$work/$a.log"; continue; }
  /usr/bin/python3 "$root/tests/examples/e2e.py" "http://127.0.0.1:$app_port" "http://127.0.0.1:$port" "$key" ||
    { status=1; tail -20 "$work/$a.log"; }
done
[ $status -eq 0 ] && echo "examples: ok (${apps[*]})"
exit $status
