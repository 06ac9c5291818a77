-- KEYS: target hash, in-flight set, group key, known-targets set
-- ARGV: target name, max concurrent (0: no limit), lease id, lease ms, key ttl ms, targets kept at most,
--       board key prefix
-- Returns 1 when the attempt may go ahead (its lease taken), 0 when the target must not be tried now.
local target, in_flight, group, known = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = now_ms()
local fields = redis.call('HMGET', target, 'state', 'open_until', 'probe_until', 'rl_until')
local state = fields[1] or 'closed'
if blocked_until(state, fields[2], fields[4], group) > now then
  return 0
end
redis.call('ZREMRANGEBYSCORE', in_flight, '-inf', now)
local limit = tonumber(ARGV[2])
if limit > 0 and redis.call('ZCARD', in_flight) >= limit then
  return 0
end
local expires = int(now + tonumber(ARGV[4]))
if state == 'open' then
  -- The cooldown is over: this attempt is the one probe a half-open circuit lets through. It holds the
  -- target as long as its lease: renewed while it runs, lapsed soon after its holder is gone.
  redis.call('HSET', target, 'state', 'half-open', 'probe_until', expires, 'probe', ARGV[3])
elseif state == 'half-open' then
  if tonumber(fields[3] or 0) > now then
    return 0
  end
  redis.call('HSET', target, 'probe_until', expires, 'probe', ARGV[3])
end
redis.call('ZADD', in_flight, expires, ARGV[3])
expire_with_last_lease(in_flight)
redis.call('HINCRBY', target, 'attempts', 1)
redis.call('PEXPIRE', target, ARGV[5])
redis.call('ZADD', known, int(now), ARGV[1])
redis.call('PEXPIRE', known, ARGV[5])
-- Clients can name any model: past the bound, the least recently tried targets with nothing in flight are
-- forgotten. Their keys are named here from the prefix, as RedisHealthBoard names them (one Redis server,
-- not a cluster), and only a few are looked at per call.
local excess = redis.call('ZCARD', known) - tonumber(ARGV[6])
if excess > 0 then
  local prefix = ARGV[7]
  for _, name in ipairs(redis.call('ZRANGE', known, 0, excess + 15)) do
    if excess == 0 then
      break
    end
    local leases = prefix .. 'in-flight:' .. name
    if name ~= ARGV[1] and live_leases(leases, now) == 0 then
      redis.call('DEL', prefix .. 'target:' .. name, leases)
      redis.call('ZREM', known, name)
      excess = excess - 1
    end
  end
end
return 1
