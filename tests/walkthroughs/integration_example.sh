#!/usr/bin/env bash
# Runs the example block of docs/integration.md (between the integration-example markers)
# against a real latchkey and Redis, as after ./scripts/run, and checks that every answer the
# page shows (each `#   ...` comment; `…` stands for anything) appears in the output
# (check_answers, scripts/lib/processes.sh).
# Usage: integration_example.sh <repo root> <latchkey binary>
set -euo pipefail
root=$1
bin=$2
source "$root/scripts/lib/processes.sh"
start_redis
start_latchkey "$bin"

block=$(sed -n '/<!-- integration-example:start -->/,/<!-- integration-example:end -->/p' "$root/docs/integration.md" \
  | sed '/^<!--/d; /^```/d' | sed "s#http://127.0.0.1:8080#http://127.0.0.1:$port#g")
[ -n "$block" ] || { echo "no example block in docs/integration.md"; exit 1; }
printf '%s\n' "$block" >"$work/example.sh"
out=$(cd "$work" && bash -euo pipefail example.sh 2>&1)
echo "$out"

fail=0
MIN_ANSWERS=8 check_answers "$block" "$out" || fail=1
[ "$fail" = 0 ] && echo "integration example: ok ($answers_checked answers)"
