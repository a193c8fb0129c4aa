-- hash_create: stores a hash with its expiry, atomically, so the record can never exist
-- without a TTL. Used for authorization codes and opaque access tokens.
-- KEYS[1]  the record (<prefix>ac:{T}:<sha256(code)> or <prefix>ta:{T}:<sha256(token)>)
-- ARGV[1]  ttl (s); ARGV[2] a field to receive Redis's clock (us), or '' for none;
-- ARGV[3..] field, value pairs
-- Returns  1
if ARGV[2] ~= '' then
  local t = redis.call('TIME')
  redis.call('HSET', KEYS[1], ARGV[2], string.format('%d', tonumber(t[1]) * 1000000 + tonumber(t[2])))
end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
