-- KEYS: target hash, in-flight set, group key, known-targets set
-- ARGV: target name, max concurrent (0: no limit), lease id, lease ms, probe ms, key ttl ms
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
local probe_until = int(now + tonumber(ARGV[5]))
if state == 'open' then
  -- The cooldown is over: this attempt is the one probe a half-open circuit lets through.
  redis.call('HSET', target, 'state', 'half-open', 'probe_until', probe_until)
elseif state == 'half-open' then
  if tonumber(fields[3] or 0) > now then
    return 0
  end
  redis.call('HSET', target, 'probe_until', probe_until)
end
redis.call('ZADD', in_flight, int(now + tonumber(ARGV[4])), ARGV[3])
redis.call('PEXPIRE', in_flight, ARGV[4])
redis.call('HINCRBY', target, 'attempts', 1)
redis.call('PEXPIRE', target, ARGV[6])
redis.call('ZADD', known, int(now), ARGV[1])
redis.call('PEXPIRE', known, ARGV[6])
return 1
