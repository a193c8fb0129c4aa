#!/usr/bin/env bash
# Runs the README's "Use it from your backend" snippets (FastAPI under uvicorn, Express under
# node) as written, against a real latchkey and Redis, and calls their routes over HTTP: a live
# session cookie gets the user, none gets 401; a token with the scope gets 200, a narrower one
# 403, none 401. Usage: backend_snippets.sh <repo root> <latchkey binary>
set -euo pipefail
root=$(realpath "$1")
bin=$(realpath "$2")
source "$root/scripts/lib/processes.sh"
npm_deps "$root/clients/node"
start_redis
start_latchkey "$bin"
key=$(cat "$work/var/secrets/admin_api_key")
api() { curl -s -H "Authorization: Bearer $key" -H 'Content-Type: application/json' "$@"; }
snippet() {  # name -> the block's code, latchkey's and the app's ports substituted
  sed -n "/<!-- backend-snippet:$1:start -->/,/<!-- backend-snippet:$1:end -->/p" "$root/README.md" |
    sed '/^<!--/d; /^```/d' | sed "s#http://127.0.0.1:8080#http://127.0.0.1:$port#g; s#app.listen(3000)#app.listen($2)#"
}
fail=0
check() {  # label, expected, actual
  if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: expected $2, got $3"; fail=1; fi
}
probe() {  # app URL, label
  local user="snippet-$RANDOM" s tok good narrow
  tok=$(api -d "{\"user_id\":\"$user\"}" "http://127.0.0.1:$port/v1/sessions" | sed 's/.*"token":"\([^"]*\)".*/\1/')
  good=$(api -d "{\"user_id\":\"$user\",\"scope\":\"orders:read\"}" "http://127.0.0.1:$port/v1/tokens" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  narrow=$(api -d "{\"user_id\":\"$user\",\"scope\":\"profile\"}" "http://127.0.0.1:$port/v1/tokens" | sed 's/.*"access_token":"\([^"]*\)".*/\1/')
  check "$2 /me with the session cookie" "{\"user\":\"$user\"}" "$(curl -s -H "Cookie: __Host-session=$tok" "$1/me")"
  check "$2 /me without a session" 401 "$(curl -s -o /dev/null -w '%{http_code}' "$1/me")"
  check "$2 /api/orders with orders:read" "{\"orders\":[],\"for\":\"$user\"}" "$(curl -s -H "Authorization: Bearer $good" "$1/api/orders")"
  check "$2 /api/orders with another scope" 403 "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $narrow" "$1/api/orders")"
  check "$2 /api/orders without a token" 401 "$(curl -s -o /dev/null -w '%{http_code}' "$1/api/orders")"
}

mkdir -p "$work/fastapi" "$work/express/node_modules/@latchkey"
fa_port=$(free_port)
snippet fastapi 0 >"$work/fastapi/app.py"
[ "$(wc -l <"$work/fastapi/app.py")" -lt 15 ] || { echo "FastAPI snippet has 15 lines or more"; fail=1; }
(cd "$work" && PYTHONPATH="$root/clients/python:$work/fastapi" /usr/bin/python3 -m uvicorn app:app \
  --host 127.0.0.1 --port "$fa_port" >"$work/fastapi.log" 2>&1) &
pids+=($!)
wait_http "http://127.0.0.1:$fa_port/openapi.json" || { cat "$work/fastapi.log"; exit 1; }
probe "http://127.0.0.1:$fa_port" fastapi

ex_port=$(free_port)
snippet express "$ex_port" >"$work/express/app.mjs"
[ "$(wc -l <"$work/express/app.mjs")" -lt 15 ] || { echo "Express snippet has 15 lines or more"; fail=1; }
ln -s "$root/clients/node" "$work/express/node_modules/@latchkey/node"
ln -s "$root/clients/node/node_modules/express" "$work/express/node_modules/express"
(cd "$work" && node express/app.mjs >"$work/express.log" 2>&1) &
pids+=($!)
for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$ex_port/me" && break; sleep 0.05; done
probe "http://127.0.0.1:$ex_port" express
[ $fail -eq 0 ] && echo "backend snippets: ok"
exit $fail
