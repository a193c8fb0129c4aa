-- session_destroy: logout. Deletes the session (and, for a forwarding key left by a rotation
-- overlap, the session it forwards to) and removes it from its user's index.
-- KEYS[1]  session key    ARGV[1] session_id    ARGV[2] session key prefix    ARGV[3] index key prefix
-- Returns  number of sessions deleted (0 when already gone: logout is idempotent)
-- KEYS[#KEYS]  the slot's migration guard <prefix>mg:{T}: never written, declared because this
--          script names keys it did not declare (docs/redis.md, Cluster); checked first.
if not string.find(KEYS[#KEYS] or '', 'mg:{', 1, true) then
  return redis.error_reply('ERR latchkey: the call does not declare its migration guard key')
end
local function destroy(key, sid)
  local uh = redis.call('HGET', key, 'uh')
  local n = redis.call('DEL', key)
  if uh then redis.call('ZREM', ARGV[3] .. uh, sid) end
  return uh and n or 0
end
local fw = redis.call('HMGET', KEYS[1], 'fw', 'fe')
if fw[1] then
  redis.call('DEL', KEYS[1])
  -- Past the overlap (a TTL slid by validation's pipeline): the old token ends nothing.
  if not fw[2] or tonumber(redis.call('TIME')[1]) >= tonumber(fw[2]) then return 0 end
  return destroy(ARGV[2] .. fw[1], fw[1])
end
return destroy(KEYS[1], ARGV[1])
