-- Token buckets, as app/access/limits.py keeps them in process: see its docstring for the rules.
-- A bucket is a hash {level, at}; a missing bucket is full. It expires once it would be full again.

local function bucket_level(key, limit, now)
  local fields = redis.call('HMGET', key, 'level', 'at')
  if not fields[1] then
    return limit
  end
  return math.min(limit, tonumber(fields[1]) + (now - tonumber(fields[2])) * limit / 60000)
end

local function store_bucket(key, limit, level, now)
  redis.call('HSET', key, 'level', tostring(level), 'at', int(now))
  redis.call('PEXPIRE', key, int(math.max(1000, math.ceil((limit - level) * 60000 / limit) + 1000)))
end

