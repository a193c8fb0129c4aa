-- session_rotate: moves a session to a new token (privilege change). The old token stops
-- working at once, or after `overlap` seconds, when it only forwards to the new session.
-- KEYS[1]  old session key    KEYS[2] new session key (same slot: same hash tag)
-- ARGV[1]  expected version (the data was re-encrypted for KEYS[2] at this version)
-- ARGV[2]  old session_id     ARGV[3] new session_id
-- ARGV[4]  data for KEYS[2]   ARGV[5] meta for KEYS[2]
-- ARGV[6]  overlap (s)        ARGV[7] touch interval (s)   ARGV[8] index key prefix
-- Returns  {'ok', created_at, last_seen_at, idle_expires_at, expires_at, version, user_id}
--          {'conflict'} (changed meanwhile: re-read and retry) | {'rotated', successor} | {'gone'}
-- KEYS[#KEYS]  the slot's migration guard <prefix>mg:{T}: never written, declared because this
--          script names keys it did not declare (docs/redis.md, Cluster); checked first.
if not string.find(KEYS[#KEYS] or '', 'mg:{', 1, true) then
  return redis.error_reply('ERR latchkey: the call does not declare its migration guard key')
end
local now = tonumber(redis.call('TIME')[1])
local f = redis.call('HMGET', KEYS[1], 'uid', 'ct', 'ls', 'it', 'ae', 'v', 'uh', 'fw')
if f[8] then return {'rotated', f[8]} end
if not f[1] then return {'gone'} end
local it, ae, v = tonumber(f[4]), tonumber(f[5]), tonumber(f[6])
local idx = ARGV[8] .. f[7]
if now >= ae or now > tonumber(f[3]) + it + tonumber(ARGV[7]) then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', idx, ARGV[2])
  return {'gone'}
end
if v ~= tonumber(ARGV[1]) then return {'conflict'} end
local idle_expires_at = math.min(now + it, ae)
redis.call('HSET', KEYS[2], 'uid', f[1], 'uh', f[7], 'ct', f[2], 'ls', now, 'it', it, 'ae', ae,
           'v', v, 'd', ARGV[4], 'm', ARGV[5])
redis.call('EXPIREAT', KEYS[2], idle_expires_at)
local score = redis.call('ZSCORE', idx, ARGV[2]) or (tonumber(f[2]) * 1000000)
redis.call('ZREM', idx, ARGV[2])
redis.call('ZADD', idx, score, ARGV[3])
redis.call('DEL', KEYS[1])
local overlap = tonumber(ARGV[6])
if overlap > 0 then
  -- 'fe' keeps the end of the overlap: validation's pipeline may slide this key's TTL before it
  -- sees 'fw' (lua/session_validate.lua puts the TTL back and refuses the key after 'fe').
  local forward_until = math.min(now + overlap, ae)
  redis.call('HSET', KEYS[1], 'fw', ARGV[3], 'fe', forward_until)
  redis.call('EXPIREAT', KEYS[1], forward_until)
end
return {'ok', tonumber(f[2]), now, idle_expires_at, ae, v, f[1]}
