-- KEYS: (target hash, in-flight set, group key) for each target
-- Returns, for each target: state, in flight, latency ('' if unknown), success rate, consecutive failures,
-- ms until available, attempts, failures.
local now = now_ms()
local statuses = {}
for i = 1, #KEYS, 3 do
  local fields = redis.call('HMGET', KEYS[i], 'state', 'open_until', 'rl_until', 'lat', 'sr', 'cf', 'attempts', 'failures')
  local state = fields[1] or 'closed'
  local available_in = math.max(0, blocked_until(state, fields[2], fields[3], KEYS[i + 2]) - now)
  statuses[#statuses + 1] = {
    state,
    redis.call('ZCOUNT', KEYS[i + 1], '(' .. int(now), '+inf'),
    fields[4] or '',
    fields[5] or '1',
    fields[6] or '0',
    int(available_in),
    fields[7] or '0',
    fields[8] or '0',
  }
end
return statuses
