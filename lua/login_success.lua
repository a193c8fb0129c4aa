-- login_success: the account's failure count starts over, the attempt reserved by login_check
-- is settled (on the presented device when it is this user's, which is then replaced, else on
-- the account), and a new device token is recorded.
-- KEYS[1]  <prefix>la:{T}:<user hash>  KEYS[2] the new device <prefix>ld:{T}:<hash>
-- KEYS[3]  optional: the presented device <prefix>ld:{T}:<hash>
-- ARGV[1]  user hash  ARGV[2] device lifetime (ms)  ARGV[3] now (ms), or '' for Redis's clock
-- Returns  1
local now = tonumber(ARGV[3])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
if KEYS[3] and redis.call('HGET', KEYS[3], 'uh') == ARGV[1] then
  redis.call('DEL', KEYS[3])
else
  local s = redis.call('HMGET', KEYS[1], 'p', 'pe')
  if s[1] then
    local p = tonumber(s[1])
    if p > 0 and tonumber(s[2] or '0') > now then p = p - 1 else p = 0 end
    redis.call('HSET', KEYS[1], 'p', p)
  end
end
redis.call('HDEL', KEYS[1], 'c', 'ws')
redis.call('HSET', KEYS[2], 'uh', ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
