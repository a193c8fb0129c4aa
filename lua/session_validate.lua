-- session_validate: reads a session, enforces both deadlines, slides the idle deadline.
-- KEYS[1]  session key <prefix>s:{T}:<session_id>
-- ARGV[1]  session_id of KEYS[1]
-- ARGV[2]  touch: 1 slides the idle deadline (never past the absolute one), 0 only reads
-- ARGV[3]  touch interval (s): last_seen_at is rewritten at most this often
-- ARGV[4]  session key prefix of the slot (<prefix>s:{T}:)  ARGV[5] index key prefix (<prefix>u:{T}:)
-- Returns  false when there is no live session, else
--          {session_id, user_id, created_at, last_seen_at, idle_expires_at, expires_at, version, data, meta}
-- A key rotated with an overlap holds only 'fw' (the successor's id) and 'fe' (the end of the
-- overlap) until the overlap ends; it answers with its successor. Validation's pipeline
-- (sessions::Service::read) may have slid such a key's TTL before it saw 'fw': its deadline
-- is put back here, and the stored 'fe' decides.
-- KEYS[#KEYS]  the slot's migration guard <prefix>mg:{T}: never written, declared because this
--          script names keys it did not declare (docs/redis.md, Cluster); checked first.
if not string.find(KEYS[#KEYS] or '', 'mg:{', 1, true) then
  return redis.error_reply('ERR latchkey: the call does not declare its migration guard key')
end
local now = tonumber(redis.call('TIME')[1])
local key, sid = KEYS[1], ARGV[1]
local f = redis.call('HMGET', key, 'uid', 'ct', 'ls', 'it', 'ae', 'v', 'd', 'm', 'uh', 'fw')
if f[10] then
  local fe = tonumber(redis.call('HGET', key, 'fe'))
  if not fe or now >= fe then
    redis.call('DEL', key)
    return false
  end
  redis.call('EXPIREAT', key, fe)
  sid = f[10]
  key = ARGV[4] .. sid
  f = redis.call('HMGET', key, 'uid', 'ct', 'ls', 'it', 'ae', 'v', 'd', 'm', 'uh', 'fw')
end
if not f[1] then return false end
local ls, it, ae = tonumber(f[3]), tonumber(f[4]), tonumber(f[5])
-- The stored deadlines decide, not only the TTL (an EXPIRE from elsewhere cannot revive it):
-- absolute, and idle with one touch interval of slack for the throttled last_seen_at.
if now >= ae or now > ls + it + tonumber(ARGV[3]) then
  redis.call('DEL', key)
  redis.call('ZREM', ARGV[5] .. f[9], sid)
  return false
end
local idle_expires_at
if ARGV[2] == '1' then
  idle_expires_at = math.min(now + it, ae)
  redis.call('EXPIREAT', key, idle_expires_at)
  if now - ls >= tonumber(ARGV[3]) then
    redis.call('HSET', key, 'ls', now)
    ls = now
  end
else
  idle_expires_at = redis.call('EXPIRETIME', key)
end
return {sid, f[1], tonumber(f[2]), ls, idle_expires_at, ae, tonumber(f[6]), f[7], f[8]}
