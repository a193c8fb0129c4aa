-- oauth_code_redeem: redeems an authorization code exactly once. The checks that bind the
-- code (client, redirect URI, PKCE) run here too, so a check and the redemption cannot be
-- separated by another request. A failed check leaves the code as it was.
-- KEYS[1]  <prefix>ac:{T}:<sha256(code)>
-- ARGV[1]  the authenticated client_id  ARGV[2] redirect_uri sent with the token request ('' if none)
-- ARGV[3]  S256 challenge of the code_verifier sent ('' if none)
-- ARGV[4]  family id the redemption will create (kept in the spent code, so a replay finds it)
-- ARGV[5]  how long the spent code is remembered (s)
-- ARGV[6]  the slot's code epoch prefix (<prefix>tc:{T}:; the code's user hash completes
--          it: same slot as KEYS[1]); set in microseconds by token_revoke_user
-- Returns  {'ok', scope, sealed user id, user hash, sealed OpenID login ('' when none)} | {'mismatch', 'client'|'redirect_uri'|'pkce'}
--          | {'replay', family id, user hash} | {'invalid'} (unknown or expired)
-- KEYS[#KEYS]  the slot's migration guard <prefix>mg:{T}: never written, declared because this
--          script names keys it did not declare (docs/redis.md, Cluster); checked first.
if not string.find(KEYS[#KEYS] or '', 'mg:{', 1, true) then
  return redis.error_reply('ERR latchkey: the call does not declare its migration guard key')
end
local c = redis.call('HMGET', KEYS[1], 'c', 'r', 's', 'cc', 'u', 'uh', 'used', 'ct', 'o')
if not c[1] then return {'invalid'} end
-- Another client presenting this code learns nothing and changes nothing, spent or not; only
-- the client it was issued to replays it (and so revokes what it issued).
if c[1] ~= ARGV[1] then return {'mismatch', 'client'} end
if c[7] then return {'replay', c[7], c[6]} end
if c[2] ~= '' and c[2] ~= ARGV[2] then return {'mismatch', 'redirect_uri'} end
if c[4] ~= ARGV[3] then return {'mismatch', 'pkce'} end
-- Issued before a "revoke all" of the user (the epoch): dead, like the tokens of that time.
if tonumber(c[8] or '0') <= tonumber(redis.call('GET', ARGV[6] .. c[6]) or '-1') then
  redis.call('DEL', KEYS[1])
  return {'invalid'}
end
redis.call('HSET', KEYS[1], 'used', ARGV[4])
redis.call('HDEL', KEYS[1], 'u', 'cc', 'o')
redis.call('EXPIRE', KEYS[1], ARGV[5])
return {'ok', c[3], c[5], c[6], c[9] or ''}
