-- login_release: settles one attempt reserved by login_check without counting a failure
-- (the IP's part of a success, or a reservation whose other half was refused).
-- KEYS[1]  <prefix>la:{T}:<user hash> | <prefix>lp:<ip hash> | <prefix>ld:{T}:<device hash>
-- ARGV[1]  now (ms), or '' for Redis's clock
-- Returns  the attempts still in flight
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local s = redis.call('HMGET', KEYS[1], 'p', 'pe')
if not s[1] then return 0 end
local p = tonumber(s[1])
if p > 0 and tonumber(s[2] or '0') > now then p = p - 1 else p = 0 end
redis.call('HSET', KEYS[1], 'p', p)
return p
