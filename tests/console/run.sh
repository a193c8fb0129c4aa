#!/usr/bin/env bash
# The console end to end in a real browser: Redis, latchkey with console_listen, then
# tests/console/browser_test.py drives Debian's chromium (headless, through chromedriver and
# python3-selenium) and checks every outcome through the admin API. Screenshots of each page
# go to $CONSOLE_SCREENSHOTS (default build/console-screenshots).
# Usage: tests/console/run.sh <latchkey binary>
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$(realpath "$1")
shots=${CONSOLE_SCREENSHOTS:-$root/build/console-screenshots}
source "$root/scripts/lib/processes.sh"
start_redis
mkdir -p "$work/var/secrets" "$shots"
"$bin" keys init --dir "$work/var/secrets" >/dev/null
key=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
ro_key=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
port=$(free_port)
console_port=$(free_port)
LATCHKEY_LISTEN="127.0.0.1:$port" LATCHKEY_CONSOLE_LISTEN="127.0.0.1:$console_port" \
LATCHKEY_REDIS_URL="redis://127.0.0.1:$redis_port/0" LATCHKEY_SECRETS_DIR="$work/var/secrets" \
LATCHKEY_ADMIN_API_KEYS="$key,read:$ro_key" LATCHKEY_ACCESS_LOG=false \
  "$bin" serve >"$work/latchkey.out" 2>"$work/latchkey.err" &
pids+=($!)
wait_http "http://127.0.0.1:$port/readyz"
wait_http "http://127.0.0.1:$console_port/healthz"
timeout 300 /usr/bin/python3 "$root/tests/console/browser_test.py" "http://127.0.0.1:$console_port" \
  "http://127.0.0.1:$port" "$key" "$ro_key" "$shots" ||
  { echo "--- latchkey stderr"; tail -30 "$work/latchkey.err"; exit 1; }
