-- A target's health, as app/routing/health.py keeps it in process: see LocalHealthBoard for the rules.
-- Hash fields: state (closed | open | half-open), cf (consecutive failures), open_until, probe_until and
-- rl_until (ms, server clock), lat and sr (EWMAs), attempts, failures. Attempts in flight are a sorted set of
-- lease ids scored by expiry, so a lease whose holder died (or lost Redis) lapses on its own.

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

