-- bench/memory/layouts: N copies of one real record in a given layout, in database 2; keys of
-- the same length as the originals (their last 8 characters replaced by a counter). The
-- originals are read here (binary-safe): latchkey's session hash and user index in database
-- 0, connect-redis's record in database 1.
--   ARGV: layout, n, session key, index key, peer key. Layout "describe": the session's
--   fields and their sizes, nothing written.
local layout, n = ARGV[1], tonumber(ARGV[2])
local skey, ikey, pkey = ARGV[3], ARGV[4], ARGV[5]
redis.call('SELECT', 0)
local flat = redis.call('HGETALL', skey)
local ttl = redis.call('PTTL', skey)
redis.call('SELECT', 1)
local pval = redis.call('GET', pkey)
redis.call('SELECT', 2)
if layout == 'describe' then
  local out = {}
  for i = 1, #flat, 2 do out[#out + 1] = flat[i] .. ' ' .. #flat[i + 1] end
  out[#out + 1] = 'ttl_ms ' .. ttl
  return out
end
if ttl < 0 then ttl = 86400000 end

local function named(key, i) return string.sub(key, 1, #key - 8) .. string.format('%08d', i) end

-- The hash with every value over 64 bytes (hash-max-listpack-value) cut into numbered chunks
-- of at most 64 bytes (field "d" becomes "d0", "d1", ...), so that it stays a listpack.
local chunks = {}
for i = 1, #flat, 2 do
  local name, v = flat[i], flat[i + 1]
  if #v <= 64 then
    chunks[#chunks + 1] = name; chunks[#chunks + 1] = v
  else
    local k = 0
    for at = 1, #v, 64 do
      chunks[#chunks + 1] = name .. k; chunks[#chunks + 1] = string.sub(v, at, at + 63); k = k + 1
    end
  end
end
-- One string: each field as <name>=<length>:<value>, the same bytes as the hash holds.
local parts = {}
for i = 1, #flat, 2 do parts[#parts + 1] = flat[i] .. '=' .. #flat[i + 1] .. ':' .. flat[i + 1] end
local record = table.concat(parts)

local with_index = {['hash+index'] = true, ['chunked+index'] = true, ['string+index'] = true, index = true}
for i = 1, n do
  local s = named(skey, i)
  if layout == 'hash+index' or layout == 'hash' then
    redis.call('HSET', s, unpack(flat)); redis.call('PEXPIRE', s, ttl)
  elseif layout == 'chunked+index' then
    redis.call('HSET', s, unpack(chunks)); redis.call('PEXPIRE', s, ttl)
  elseif layout == 'string+index' or layout == 'string' then
    redis.call('SET', s, record, 'PX', ttl)
  elseif layout == 'peer' then
    redis.call('SET', named(pkey, i), pval, 'PX', ttl)
  end
  if with_index[layout] then
    local u = named(ikey, i)
    redis.call('ZADD', u, ttl, s); redis.call('PEXPIRE', u, ttl)
  end
end
return n
