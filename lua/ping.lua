-- ping: the readiness probe. Proves that Redis runs scripts (not only PING) and that this
-- connection may write, by setting a short-lived probe key.
-- KEYS[1]  probe key (string; gets a 10 s TTL, like every key latchkey writes)
-- ARGV     none
-- Returns  the server time as {seconds, microseconds}.
redis.call('SET', KEYS[1], '1', 'EX', 10)
return redis.call('TIME')
