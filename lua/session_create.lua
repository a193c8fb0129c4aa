-- session_create: creates a session and enforces the per-user limit, atomically.
-- KEYS[1]  session key       <prefix>s:{T}:<session_id>   (hash)
-- KEYS[2]  user index key    <prefix>u:{T}:<user hash>    (zset: session_id -> created µs)
-- ARGV[1]  session_id        ARGV[2] user_id              ARGV[3] user hash
-- ARGV[4]  idle ttl (s)      ARGV[5] absolute ttl (s)
-- ARGV[6]  limit             ARGV[7] policy: evict_oldest | reject_new
-- ARGV[8]  encrypted data    ARGV[9] encrypted device+ip
-- ARGV[10] session key prefix of this user's slot (<prefix>s:{T}:); sibling session keys are
--          derived from it, so every key touched shares KEYS[2]'s hash tag (one slot).
-- Returns  {'ok', created_at, idle_expires_at, expires_at, evicted_id...} or {'limit'}
-- Time comes from Redis (TIME), the one clock every latchkey node shares.
-- KEYS[#KEYS]  the slot's migration guard <prefix>mg:{T}: never written, declared because this
--          script names keys it did not declare (docs/redis.md, Cluster); checked first.
if not string.find(KEYS[#KEYS] or '', 'mg:{', 1, true) then
  return redis.error_reply('ERR latchkey: the call does not declare its migration guard key')
end
local t = redis.call('TIME')
local now = tonumber(t[1])
local score = now * 1000000 + tonumber(t[2])
local idx, prefix = KEYS[2], ARGV[10]

-- Prune index entries whose session is gone or past its absolute deadline.
local live = 0
for _, sid in ipairs(redis.call('ZRANGE', idx, 0, -1)) do
  local ae = redis.call('HGET', prefix .. sid, 'ae')
  if not ae or tonumber(ae) <= now then
    redis.call('DEL', prefix .. sid)
    redis.call('ZREM', idx, sid)
  else
    live = live + 1
  end
end

local limit = tonumber(ARGV[6])
local result = {'ok', 0, 0, 0}
while live >= limit do
  if ARGV[7] == 'reject_new' then return {'limit'} end
  local oldest = redis.call('ZRANGE', idx, 0, 0)[1]
  redis.call('DEL', prefix .. oldest)
  redis.call('ZREM', idx, oldest)
  result[#result + 1] = oldest
  live = live - 1
end

local idle, abs = tonumber(ARGV[4]), tonumber(ARGV[5])
local expires_at = now + abs
local idle_expires_at = math.min(now + idle, expires_at)
redis.call('HSET', KEYS[1], 'uid', ARGV[2], 'uh', ARGV[3], 'ct', now, 'ls', now, 'it', idle,
           'ae', expires_at, 'v', 1, 'd', ARGV[8], 'm', ARGV[9])
redis.call('EXPIREAT', KEYS[1], idle_expires_at)
redis.call('ZADD', idx, score, ARGV[1])
if redis.call('EXPIRETIME', idx) < expires_at then redis.call('EXPIREAT', idx, expires_at) end
result[2], result[3], result[4] = now, idle_expires_at, expires_at
return result
