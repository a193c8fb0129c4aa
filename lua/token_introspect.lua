-- token_introspect: reads an opaque access token's record and decides whether it is active:
-- present, not past its stored expiry (Redis's clock), its family not revoked (code replay,
-- refresh-token reuse, revocation) and not issued before its user's "revoke all" epoch.
-- KEYS[1]  <prefix>ta:{T}:<sha256(token)>
-- ARGV[1]  family marker prefix of the slot (<prefix>tf:{T}:)
-- ARGV[2]  user epoch prefix of the slot (<prefix>te:{T}:)
-- The marker and epoch keys are in KEYS[1]'s slot (named from the record, like token_refresh).
-- Returns  {} when inactive, else {client_id, scope, audience, sealed user id, iat, exp,
--          family id, DPoP key thumbprint ('' when not bound)}
-- KEYS[#KEYS]  the slot's migration guard <prefix>mg:{T}: never written, declared because this
--          script names keys it did not declare (docs/redis.md, Cluster); checked first.
if not string.find(KEYS[#KEYS] or '', 'mg:{', 1, true) then
  return redis.error_reply('ERR latchkey: the call does not declare its migration guard key')
end
local t = redis.call('HMGET', KEYS[1], 'c', 's', 'a', 'u', 'uh', 'f', 'i', 'e', 'k')
if not t[1] then return {} end
local now = tonumber(redis.call('TIME')[1])
local iat, exp = tonumber(t[7]), tonumber(t[8])
if now >= exp then return {} end
if t[6] and t[6] ~= '' and redis.call('EXISTS', ARGV[1] .. t[6]) == 1 then return {} end
if t[5] and t[5] ~= '' then
  local epoch = tonumber(redis.call('GET', ARGV[2] .. t[5]) or '0')
  if iat <= epoch then return {} end
end
return {t[1], t[2], t[3], t[4] or '', iat, exp, t[6] or '', t[9] or ''}
