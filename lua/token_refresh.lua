-- token_refresh: rotates a refresh token, or recognises a retry within the grace window, or
-- detects reuse and revokes the family. One script, so concurrent refreshes are serialised.
-- KEYS[1]  presented token record  KEYS[2] family  KEYS[3] new token record
-- KEYS[4]  family revocation marker <prefix>tf:{T}:<family_id>  KEYS[5] user's family index
-- ARGV[1]  sha256 of the presented token  ARGV[2] sha256 of the new token, or '' when the
--          caller could not read the grant (then the live token is only ever 'invalid')
-- ARGV[3]  sealed new pair (kept in the presented record for the grace window)
-- ARGV[4]  grace (s; 0 disables)  ARGV[5] idle ttl (s)  ARGV[6] marker ttl (s)
-- ARGV[7]  family_id read with the presented record  ARGV[8] token record prefix of the slot
-- Returns  {'rotated'} | {'grace', sealed pair} | {'reuse'} | {'invalid'}
-- KEYS[#KEYS]  the slot's migration guard <prefix>mg:{T}: never written, declared because this
--          script names keys it did not declare (docs/redis.md, Cluster); checked first.
if not string.find(KEYS[#KEYS] or '', 'mg:{', 1, true) then
  return redis.error_reply('ERR latchkey: the call does not declare its migration guard key')
end
local now = tonumber(redis.call('TIME')[1])
local t = redis.call('HMGET', KEYS[1], 'f', 'c', 'u', 'n')
if t[1] ~= ARGV[7] then return {'invalid'} end
local fam = redis.call('HMGET', KEYS[2], 'cur', 'prev', 'pt', 'ae', 'le')
if not fam[1] then return {'invalid'} end
local ae, le = tonumber(fam[4]), tonumber(fam[5])
-- The stored deadlines decide, not only the key's TTL.
if now >= ae or now >= le + tonumber(ARGV[5]) then
  redis.call('DEL', KEYS[2])
  redis.call('ZREM', KEYS[5], ARGV[7])
  return {'invalid'}
end
if fam[1] == ARGV[1] then
  if ARGV[2] == '' then return {'invalid'} end
  redis.call('HSET', KEYS[1], 'n', ARGV[3])
  redis.call('HSET', KEYS[3], 'f', ARGV[7], 'u', t[3], 'c', t[2])
  redis.call('EXPIREAT', KEYS[3], ae)
  redis.call('HSET', KEYS[2], 'cur', ARGV[2], 'prev', ARGV[1], 'pt', now, 'le', now)
  redis.call('EXPIREAT', KEYS[2], math.min(ae, now + tonumber(ARGV[5])))
  -- The token retired before this one can no longer be a grace retry: keep only what reuse
  -- detection needs (its family id).
  if fam[2] ~= '' then redis.call('HDEL', ARGV[8] .. fam[2], 'n', 'c') end
  return {'rotated'}
end
if fam[2] == ARGV[1] and now - tonumber(fam[3]) < tonumber(ARGV[4]) and t[4] then
  return {'grace', t[4]}
end
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[5], ARGV[7])
redis.call('SET', KEYS[4], '1', 'EX', ARGV[6])
return {'reuse'}
