-- token_revoke_family: revokes a refresh-token family and the access tokens minted from it.
-- KEYS[1]  family  KEYS[2] family revocation marker  KEYS[3] user's family index
-- ARGV[1]  family_id  ARGV[2] marker ttl (s)
-- Returns  1 when a live family was revoked, else 0 (the marker is set either way).
local live = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('SET', KEYS[2], '1', 'EX', ARGV[2])
return live
