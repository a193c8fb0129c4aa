-- hash_create: stores a hash with its expiry, atomically, so the record can never exist
-- without a TTL. Used for authorization codes and opaque access tokens.
-- KEYS[1]  the record (<prefix>ac:{T}:<sha256(code)> or <prefix>ta:{T}:<sha256(token)>)
-- ARGV[1]  ttl (s); ARGV[2] a field to receive Redis's clock (s), or '' for none;
-- ARGV[3..] field, value pairs
-- Returns  1
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], ARGV[2], redis.call('TIME')[1]) end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
