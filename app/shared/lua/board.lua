-- A target's health, as app/routing/health.py keeps it in process: see LocalHealthBoard for the rules.
-- Hash fields: state (closed | open | half-open), cf (consecutive failures), open_until, probe_until and
-- rl_until (ms, server clock), probe (the half-open probe's lease id), lat and sr (EWMAs), attempts,
-- failures. Attempts in flight are a sorted set of lease ids scored by expiry: their holder renews them while
-- they run, so a lease whose holder died (or lost Redis) lapses on its own.

local EWMA_ALPHA = 0.3

local function ewma(previous, sample)
  return previous + EWMA_ALPHA * (sample - previous)
end

-- Milliseconds until the target may be tried (0 when it may be now).
local function blocked_until(state, open_until, rl_until, group_key)
  local until_ms = tonumber(rl_until or 0)
  if state == 'open' then
    until_ms = math.max(until_ms, tonumber(open_until or 0))
  end
  return math.max(until_ms, tonumber(redis.call('GET', group_key) or 0))
end

-- Leases in flight that have not lapsed.
local function live_leases(in_flight, now)
  return redis.call('ZCOUNT', in_flight, '(' .. int(now), '+inf')
end

-- An in-flight set lives as long as its longest lease (instances may be configured with different ones).
local function expire_with_last_lease(in_flight)
  local last = redis.call('ZRANGE', in_flight, -1, -1, 'WITHSCORES')
  if last[2] then
    redis.call('PEXPIREAT', in_flight, int(tonumber(last[2])))
  end
end

