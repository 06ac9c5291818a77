-- KEYS: (target hash, in-flight set) for each target the worker has leases on
-- ARGV: lease ms, then for each target: the number of its leases still held, their ids, the number of its
--       leases whose release did not reach Redis, their ids
-- Extends the held leases that Redis still has, and the half-open probe with its lease; takes the released
-- ones out. It never adds a lease back: a release that overtook this renewal must not be undone.
local lease_ms = tonumber(ARGV[1])
local now = now_ms()
local expires = int(now + lease_ms)
local at = 2
for i = 1, #KEYS, 2 do
  local target, in_flight = KEYS[i], KEYS[i + 1]
  local probe = redis.call('HGET', target, 'probe')
  local held = tonumber(ARGV[at])
  for j = at + 1, at + held do
    redis.call('ZADD', in_flight, 'XX', expires, ARGV[j])
    if ARGV[j] == probe and redis.call('HGET', target, 'state') == 'half-open' then
      redis.call('HSET', target, 'probe_until', expires)
    end
  end
  at = at + held + 1
  local gone = tonumber(ARGV[at])
  for j = at + 1, at + gone do
    redis.call('ZREM', in_flight, ARGV[j])
    if ARGV[j] == probe then
      -- Its outcome went to that worker's own board; the next attempt may probe again.
      redis.call('HSET', target, 'probe_until', '0')
      redis.call('HDEL', target, 'probe')
    end
  end
  at = at + gone + 1
  expire_with_last_lease(in_flight)
end
return 1
