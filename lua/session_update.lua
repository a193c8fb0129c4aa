-- session_update: replaces a session's data if the caller holds the current version.
-- KEYS[1]  session key <prefix>s:{T}:<session_id>
-- ARGV[1]  expected version   ARGV[2] new encrypted data (bound to KEYS[1])
-- ARGV[3]  touch interval (s)   ARGV[4] index key prefix (<prefix>u:{T}:)   ARGV[5] session_id
-- Returns  {'ok', created_at, last_seen_at, idle_expires_at, expires_at, version, user_id, meta}
--          {'conflict', current version} | {'rotated', successor id} | {'gone'}
-- A destroyed or expired session stays gone: nothing is written unless the session exists.
-- KEYS[#KEYS]  the slot's migration guard <prefix>mg:{T}: never written, declared because this
--          script names keys it did not declare (docs/redis.md, Cluster); checked first.
if not string.find(KEYS[#KEYS] or '', 'mg:{', 1, true) then
  return redis.error_reply('ERR latchkey: the call does not declare its migration guard key')
end
local now = tonumber(redis.call('TIME')[1])
local key = KEYS[1]
local f = redis.call('HMGET', key, 'uid', 'ct', 'ls', 'it', 'ae', 'v', 'm', 'uh', 'fw')
if f[9] then return {'rotated', f[9]} end
if not f[1] then return {'gone'} end
local ls, it, ae, v = tonumber(f[3]), tonumber(f[4]), tonumber(f[5]), tonumber(f[6])
if now >= ae or now > ls + it + tonumber(ARGV[3]) then
  redis.call('DEL', key)
  redis.call('ZREM', ARGV[4] .. f[8], ARGV[5])
  return {'gone'}
end
if v ~= tonumber(ARGV[1]) then return {'conflict', v} end
v = v + 1
local idle_expires_at = math.min(now + it, ae)
redis.call('HSET', key, 'd', ARGV[2], 'v', v, 'ls', now)
redis.call('EXPIREAT', key, idle_expires_at)
return {'ok', tonumber(f[2]), now, idle_expires_at, ae, v, f[1], f[7]}
