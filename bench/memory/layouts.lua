-- bench/memory/layouts: N copies of one real record in a given layout, keys of the same
-- length as the originals (their last 8 characters replaced by a counter).
--   KEYS: none. ARGV: layout, n, session key, index key, ttl_ms, peer key, peer value,
--   then the session hash's fields and values in pairs.
local layout, n = ARGV[1], tonumber(ARGV[2])
local skey, ikey, ttl, pkey, pval = ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6], ARGV[7]
local fields = {}
for i = 8, #ARGV, 2 do fields[#fields + 1] = {ARGV[i], ARGV[i + 1]} end

local function named(key, i) return string.sub(key, 1, #key - 8) .. string.format('%08d', i) end

-- The hash's fields with every value over 64 bytes (hash-max-listpack-value) cut into
-- numbered chunks of at most 64 bytes: field "d" becomes "d0", "d1", ...
local function chunked()
  local out = {}
  for _, f in ipairs(fields) do
    local name, v = f[1], f[2]
    if #v <= 64 then
      out[#out + 1] = name; out[#out + 1] = v
    else
      local k = 0
      for at = 1, #v, 64 do
        out[#out + 1] = name .. k; out[#out + 1] = string.sub(v, at, at + 63); k = k + 1
      end
    end
  end
  return out
end
-- One string: each field as <name>=<length>:<value>, the same bytes as the hash holds.
local function packed()
  local parts = {}
  for _, f in ipairs(fields) do parts[#parts + 1] = f[1] .. '=' .. #f[2] .. ':' .. f[2] end
  return table.concat(parts)
end
local flat = {}
for _, f in ipairs(fields) do flat[#flat + 1] = f[1]; flat[#flat + 1] = f[2] end
local chunks, record = chunked(), packed()

for i = 1, n do
  local s, u = named(skey, i), named(ikey, i)
  if layout == 'hash+index' or layout == 'hash' then
    redis.call('HSET', s, unpack(flat)); redis.call('PEXPIRE', s, ttl)
  elseif layout == 'chunked+index' then
    redis.call('HSET', s, unpack(chunks)); redis.call('PEXPIRE', s, ttl)
  elseif layout == 'string+index' or layout == 'string' then
    redis.call('SET', s, record, 'PX', ttl)
  end
  if layout == 'hash+index' or layout == 'chunked+index' or layout == 'string+index' or layout == 'index' then
    redis.call('ZADD', u, ttl, s); redis.call('PEXPIRE', u, ttl)
  end
  if layout == 'peer' then redis.call('SET', named(pkey, i), pval, 'PX', ttl) end
end
return n
