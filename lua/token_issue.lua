-- token_issue: starts a refresh-token family with its first token (a login).
-- KEYS[1]  family <prefix>rf:{T}:<family_id>     KEYS[2]  token record <prefix>rt:{T}:<sha256(token)>
-- KEYS[3]  user's family index <prefix>ru:{T}:<user_hash>
-- KEYS[4]  user's revocation epoch <prefix>te:{T}:<user_hash>
-- KEYS[5]  the family's revocation marker <prefix>tf:{T}:<family_id>: set before the family
--          exists only when an authorization code was replayed while being redeemed; then
--          nothing is created (the redemption happened and was revoked at once)
-- ARGV[1]  family_id  ARGV[2] user_hash  ARGV[3] sealed grant  ARGV[4] absolute ttl (s)
-- ARGV[5]  idle ttl (s)  ARGV[6] sha256 of the token  ARGV[7] families per user (oldest beyond it go)
-- ARGV[8]  family key prefix of the slot (<prefix>rf:{T}:)
-- ARGV[9]  family marker prefix of the slot (<prefix>tf:{T}:)  ARGV[10] marker ttl (s)
-- Returns  {now, epoch}: Redis's clock, which the access token's iat must follow, and the
--          user's revocation epoch (0 when none), which iat must exceed.
-- KEYS[#KEYS]  the slot's migration guard <prefix>mg:{T}: never written, declared because this
--          script names keys it did not declare (docs/redis.md, Cluster); checked first.
if not string.find(KEYS[#KEYS] or '', 'mg:{', 1, true) then
  return redis.error_reply('ERR latchkey: the call does not declare its migration guard key')
end
local time = redis.call('TIME')
local now = tonumber(time[1])
local created_us = now * 1000000 + tonumber(time[2])
local epoch = tonumber(redis.call('GET', KEYS[4]) or '0')
if redis.call('EXISTS', KEYS[5]) == 1 then return {now, epoch} end
local ae = now + tonumber(ARGV[4])
redis.call('HSET', KEYS[1], 'uh', ARGV[2], 'ct', now, 'ae', ae, 'le', now, 'cur', ARGV[6], 'prev', '', 'pt', 0)
redis.call('EXPIREAT', KEYS[1], math.min(ae, now + tonumber(ARGV[5])))
redis.call('HSET', KEYS[2], 'f', ARGV[1], 'u', ARGV[2], 'c', ARGV[3])
redis.call('EXPIREAT', KEYS[2], ae)
-- The index is scored by creation time (microseconds): families older than the absolute
-- lifetime are gone, and the oldest beyond the per-user bound are revoked first.
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', '(' .. ((now - tonumber(ARGV[4])) * 1000000))
redis.call('ZADD', KEYS[3], created_us, ARGV[1])
local excess = redis.call('ZCARD', KEYS[3]) - tonumber(ARGV[7])
if excess > 0 then
  -- An evicted family is revoked as token_revoke_family does: its access tokens die with it.
  for _, fid in ipairs(redis.call('ZRANGE', KEYS[3], 0, excess - 1)) do
    redis.call('DEL', ARGV[8] .. fid)
    redis.call('ZREM', KEYS[3], fid)
    redis.call('SET', ARGV[9] .. fid, '1', 'EX', ARGV[10])
  end
end
if redis.call('EXPIRETIME', KEYS[3]) < ae then redis.call('EXPIREAT', KEYS[3], ae) end
return {now, epoch}
