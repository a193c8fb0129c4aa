-- oauth_code_create: stores an authorization code (by its hash) with its expiry, atomically:
-- a code can never exist without a TTL.
-- KEYS[1]  <prefix>ac:{T}:<sha256(code)>
-- ARGV[1]  ttl (s); ARGV[2..] field, value pairs
-- Returns  1
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
