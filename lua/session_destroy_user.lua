-- session_destroy_user: logout everywhere (optionally except one session), or one session
-- by its id; only sessions in this user's index can be reached.
-- KEYS[1]  user index key
-- ARGV[1]  session key prefix of the slot
-- ARGV[2]  mode: 'all' (ARGV[3] = session_id to keep, or '') | 'one' (ARGV[3] = session_id)
-- Returns  number of live sessions deleted
-- KEYS[#KEYS]  the slot's migration guard <prefix>mg:{T}: never written, declared because this
--          script names keys it did not declare (docs/redis.md, Cluster); checked first.
if not string.find(KEYS[#KEYS] or '', 'mg:{', 1, true) then
  return redis.error_reply('ERR latchkey: the call does not declare its migration guard key')
end
local now = tonumber(redis.call('TIME')[1])
local n = 0
local function kill(sid)
  local key = ARGV[1] .. sid
  local ae = redis.call('HGET', key, 'ae')
  redis.call('DEL', key)
  redis.call('ZREM', KEYS[1], sid)
  if ae and tonumber(ae) > now then n = n + 1 end
end
if ARGV[2] == 'one' then
  if redis.call('ZSCORE', KEYS[1], ARGV[3]) then kill(ARGV[3]) end
  return n
end
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if sid ~= ARGV[3] then kill(sid) end
end
return n
