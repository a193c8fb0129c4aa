-- session_list: a user's live sessions (metadata only), pruning dead index entries.
-- KEYS[1]  user index key    ARGV[1] session key prefix of the slot
-- Returns  flat list of {session_id, created_at, last_seen_at, idle_expires_at, expires_at, meta}
-- KEYS[#KEYS]  the slot's migration guard <prefix>mg:{T}: never written, declared because this
--          script names keys it did not declare (docs/redis.md, Cluster); checked first.
if not string.find(KEYS[#KEYS] or '', 'mg:{', 1, true) then
  return redis.error_reply('ERR latchkey: the call does not declare its migration guard key')
end
local now = tonumber(redis.call('TIME')[1])
local out = {}
for _, sid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local key = ARGV[1] .. sid
  local f = redis.call('HMGET', key, 'ct', 'ls', 'ae', 'm')
  if not f[3] or tonumber(f[3]) <= now then
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[1], sid)
  else
    local n = #out
    out[n + 1], out[n + 2], out[n + 3] = sid, tonumber(f[1]), tonumber(f[2])
    out[n + 4], out[n + 5], out[n + 6] = redis.call('EXPIRETIME', key), tonumber(f[3]), f[4]
  end
end
return out
