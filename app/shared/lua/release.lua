-- KEYS: target hash, in-flight set, group key, known-targets set
-- ARGV: lease id, outcome, latency s ('' if none), retry-after s ('' if none), failure threshold,
--       cooldown ms, rate-limit cooldown ms, key ttl ms, '1' when the target has a group, target name
local target, in_flight, group, known = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local outcome = ARGV[2]
local now = now_ms()
redis.call('ZREM', in_flight, ARGV[1])
local fields = redis.call('HMGET', target, 'probe_until', 'sr', 'lat', 'cf', 'rl_until')
local probe = tonumber(fields[1] or 0) > now
local success_rate = tonumber(fields[2] or 1)
if outcome == 'not_found' and not fields[3] and live_leases(in_flight, now) == 0 then
  -- No such model. One that has answered before (latency known) exists: OpenRouter also says 404 when none
  -- of a model's endpoints supports the request, and its history is worth keeping.
  redis.call('DEL', target, in_flight)
  redis.call('ZREM', known, ARGV[10])
  return 1
end
redis.call('HSET', target, 'probe_until', '0')
redis.call('HDEL', target, 'probe')
if outcome == 'success' then
  redis.call('HSET', target, 'state', 'closed', 'cf', '0', 'sr', tostring(ewma(success_rate, 1)))
  if ARGV[3] ~= '' then
    local sample = tonumber(ARGV[3])
    local latency = fields[3] and ewma(tonumber(fields[3]), sample) or sample
    redis.call('HSET', target, 'lat', tostring(latency))
  end
elseif outcome == 'failure' then
  local failures = tonumber(fields[4] or 0) + 1
  redis.call('HINCRBY', target, 'failures', 1)
  redis.call('HSET', target, 'cf', int(failures), 'sr', tostring(ewma(success_rate, 0)))
  if probe or failures >= tonumber(ARGV[5]) then
    redis.call('HSET', target, 'state', 'open', 'open_until', int(now + tonumber(ARGV[6])))
  end
elseif outcome == 'rate_limited' then
  local wait = tonumber(ARGV[7])
  if ARGV[4] ~= '' then
    wait = tonumber(ARGV[4]) * 1000
  end
  local until_ms = now + wait
  redis.call('HINCRBY', target, 'failures', 1)
  redis.call('HSET', target, 'sr', tostring(ewma(success_rate, 0)),
    'rl_until', int(math.max(tonumber(fields[5] or 0), until_ms)))
  if ARGV[9] == '1' then
    local group_until = math.max(tonumber(redis.call('GET', group) or 0), until_ms)
    redis.call('SET', group, int(group_until), 'PX', int(math.max(1, group_until - now)))
  end
  if probe then
    redis.call('HSET', target, 'state', 'open')
  end
elseif probe then
  -- The probe told us nothing; let the next one try.
  redis.call('HSET', target, 'state', 'open')
end
redis.call('PEXPIRE', target, ARGV[8])
return 1
