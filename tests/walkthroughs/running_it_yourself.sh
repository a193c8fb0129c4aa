#!/usr/bin/env bash
# Runs the README's "Running it yourself" block (between the readme-run markers) as written,
# with /etc/latchkey moved to a scratch folder and the ports moved to free ones, against a Redis
# of its own: key rings, an admin key from `keys admin-key`, the least-privilege ACL user, the
# sample config, serve, readiness, an admin call with the new key, and a clean stop.
# Usage: running_it_yourself.sh <repo root> <latchkey binary>
set -euo pipefail
root=$1
bin=$2
source "$root/scripts/lib/processes.sh"
start_redis
port=$(free_port)

sed -n '/<!-- readme-run:start -->/,/<!-- readme-run:end -->/p' "$root/README.md" \
  | sed '/^<!--/d; /^```/d' \
  | sed "s#/etc/latchkey#$work/etc#g; s#build/latchkey#$bin#g; s#docs/latchkey.conf.sample#$root/docs/latchkey.conf.sample#g" \
  | sed "s#127.0.0.1:6379#127.0.0.1:$redis_port#g; s#127.0.0.1:8080#127.0.0.1:$port#g; s#^redis-cli #redis-cli -p $redis_port #" \
  >"$work/run.sh"
[ -s "$work/run.sh" ] || { echo "no readme-run block in README.md"; exit 1; }
out=$(cd "$root" && timeout 60 bash -euo pipefail -m "$work/run.sh" 2>&1)
echo "$out"

fail=0
check() { grep -q -- "$1" <<<"$out" || { echo "MISSING in output: $1"; fail=1; }; }
check '"status":"ready"'
check '{"name":"latchkey","version"'
# The server ran as the ACL user, which may not touch keys outside its prefix or run CONFIG SET.
redis-cli -p "$redis_port" ACL GETUSER latchkey | grep -q 'lk:\*' || { echo "ACL user missing"; fail=1; }
refused=$(redis-cli -p "$redis_port" --user latchkey --pass change-this-password --no-auth-warning SET other:key 1 2>&1)
grep -q NOPERM <<<"$refused" || { echo "the ACL user could write outside its prefix: $refused"; fail=1; }
refused=$(redis-cli -p "$redis_port" --user latchkey --pass change-this-password --no-auth-warning CONFIG SET maxmemory 1 2>&1)
grep -q NOPERM <<<"$refused" || { echo "the ACL user could run CONFIG SET: $refused"; fail=1; }
# The admin key file holds exactly the key that was printed, mode 0600.
[ "$(stat -c %a "$work/etc/admin_keys")" = 600 ] || { echo "admin key file is not 0600"; fail=1; }
[ "$fail" = 0 ] && echo "running it yourself: ok"
