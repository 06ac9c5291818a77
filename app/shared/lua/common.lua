-- Shared by every script: the server's clock (one clock for every instance) and integer arguments.
local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

-- Redis reads PEXPIRE, PX and integer fields as decimal integers, never in exponent notation.
local function int(number)
  return string.format('%d', number)
end

