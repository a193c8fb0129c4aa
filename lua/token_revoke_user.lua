-- token_revoke_user: every token of a user issued before now stops working.
-- KEYS[1]  user's family index  KEYS[2] user's revocation epoch (s)
-- KEYS[3]  user's code epoch (us): authorization codes created before it are refused
-- ARGV[1]  family key prefix of the slot  ARGV[2] epoch ttl (s; outlives any access token)
-- Returns  number of live refresh families deleted
-- KEYS[#KEYS]  the slot's migration guard <prefix>mg:{T}: never written, declared because this
--          script names keys it did not declare (docs/redis.md, Cluster); checked first.
if not string.find(KEYS[#KEYS] or '', 'mg:{', 1, true) then
  return redis.error_reply('ERR latchkey: the call does not declare its migration guard key')
end
local t = redis.call('TIME')
local now = tonumber(t[1])
redis.call('SET', KEYS[2], now, 'EX', ARGV[2])
redis.call('SET', KEYS[3], string.format('%d', now * 1000000 + tonumber(t[2])), 'EX', ARGV[2])
local n = 0
for _, fid in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  n = n + redis.call('DEL', ARGV[1] .. fid)
end
redis.call('DEL', KEYS[1])
return n
