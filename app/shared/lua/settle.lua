-- KEYS: tokens bucket
-- ARGV: tokens per minute, tokens to give back (reserved minus used; negative takes more)
local limit = tonumber(ARGV[1])
local now = now_ms()
local level = math.min(limit, bucket_level(KEYS[1], limit, now) + tonumber(ARGV[2]))
store_bucket(KEYS[1], limit, level, now)
return 1
