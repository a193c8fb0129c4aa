#!/usr/bin/env bash
# The Debian package as an operator meets it: build it, install it with dpkg, check what the
# postinst made (a latchkey user, key rings in a 0700 folder, an admin API key), verify the
# systemd unit, run the installed server as the latchkey user with the installed
# configuration against a Redis, upgrade to a newer version (key rings, admin key and the
# operator's edits to the conffile kept), and purge. Needs root (apt, dpkg). Bounded: each wait
# gives up after 15 s.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/processes.sh
fail() { echo "deb_test: $*" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || fail "needs root (dpkg -i)"

dpkg-query -W latchkey >/dev/null 2>&1 && dpkg --purge latchkey >/dev/null
deb=$(SKIP_BUILD=1 scripts/package)
version=$(dpkg-deb -f "$deb" Version)
echo "built $deb ($(du -h "$deb" | cut -f1)); Depends: $(dpkg-deb -f "$deb" Depends)"

# As the README installs it (apt resolves the Depends; here they are already installed).
export DEBIAN_FRONTEND=noninteractive
apt-get install -y "./$deb" >"$work/install.log" 2>&1 || { cat "$work/install.log"; fail "apt-get install failed"; }
[ "$(latchkey version)" = "latchkey $version" ] || fail "latchkey version: $(latchkey version)"
getent passwd latchkey | grep -q ':/usr/sbin/nologin$' || fail "no latchkey system user with nologin"
check_mode() {  # path mode owner
  local got
  got=$(stat -c '%a %U' "$1")
  [ "$got" = "$2 $3" ] || fail "$1 is '$got', want '$2 $3'"
}
check_mode /etc/latchkey/secrets 700 latchkey
check_mode /etc/latchkey/admin_api_keys 600 latchkey
check_mode /etc/latchkey/latchkey.conf 640 root
for ring in encryption signing identifiers; do
  [ -s "/etc/latchkey/secrets/$ring.json" ] || fail "no $ring ring"
  check_mode "/etc/latchkey/secrets/$ring.json" 600 latchkey
done
grep -q "key rings created" "$work/install.log" || fail "the install did not say where the key rings are"

if command -v systemd-analyze >/dev/null; then
  systemd-analyze verify /lib/systemd/system/latchkey.service 2>&1 | tee "$work/verify.log"
  if grep -v "Failed to connect to bus\|System has not been booted" "$work/verify.log" | grep -qi "latchkey.service"; then
    fail "systemd-analyze verify complained about latchkey.service"
  fi
  score=$(systemd-analyze security --offline=true /lib/systemd/system/latchkey.service 2>/dev/null | tail -1 || true)
  echo "systemd-analyze security: ${score:-not available}"
else
  echo "systemd-analyze not installed: unit not verified"
fi

# The installed server, as the service would run it (user, configuration), on a test Redis.
start_redis
port=$(free_port)
runuser -u latchkey -- /usr/bin/latchkey serve --config /etc/latchkey/latchkey.conf \
  --listen="127.0.0.1:$port" --redis_url="redis://127.0.0.1:$redis_port/0" >"$work/serve.out" 2>"$work/serve.log" &
pids+=($!)
server=$!
wait_http "http://127.0.0.1:$port/readyz" || { cat "$work/serve.log"; fail "the installed server is not ready"; }
admin=$(head -1 /etc/latchkey/admin_api_keys)
created=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $admin" \
  -H 'Content-Type: application/json' -d '{"user_id":"deb-test"}' "http://127.0.0.1:$port/v1/sessions")
[ "$created" = 201 ] || { cat "$work/serve.log"; fail "POST /v1/sessions with the installed admin key: $created"; }
kill "$server"; wait "$server" 2>/dev/null || true
echo "installed server ran as latchkey with /etc/latchkey/latchkey.conf: readyz 200, session 201"

# Upgrade: a newer version over an edited conffile.
before=$(cat /etc/latchkey/secrets/*.json /etc/latchkey/admin_api_keys | sha256sum)
echo "# operator's edit" >>/etc/latchkey/latchkey.conf
newer=$(PACKAGE_VERSION="$version+1" SKIP_BUILD=1 scripts/package)
apt-get install -y "./$newer" >"$work/upgrade.log" 2>&1 || { cat "$work/upgrade.log"; fail "upgrade failed"; }
[ "$(dpkg-query -W -f='${Version}' latchkey)" = "$version+1" ] || fail "not upgraded"
[ "$(cat /etc/latchkey/secrets/*.json /etc/latchkey/admin_api_keys | sha256sum)" = "$before" ] ||
  fail "the upgrade changed the key rings or the admin key"
tail -1 /etc/latchkey/latchkey.conf | grep -q "operator's edit" || fail "the upgrade dropped the operator's edit"
grep -q "key rings created" "$work/upgrade.log" && fail "the upgrade made new key rings"
echo "upgrade $version -> $version+1 kept the key rings, the admin key and the edited configuration"

dpkg --purge latchkey >/dev/null
[ ! -e /usr/bin/latchkey ] && [ ! -e /etc/latchkey ] || fail "purge left files behind"
rm -f "$newer"
echo "purge removed the binary, the configuration and the key rings"
echo "deb_test: passed"
