-- KEYS: requests bucket, tokens bucket
-- ARGV: requests per minute (0: none), tokens per minute (0: none), token estimate (-1: uses no tokens)
-- Returns: the exhausted bucket ('' when admitted), ms to wait, request level, token level.
local requests_key, tokens_key = KEYS[1], KEYS[2]
local rpm, tpm, estimate = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local now = now_ms()
local requests = rpm > 0 and bucket_level(requests_key, rpm, now) or 0
local tokens = tpm > 0 and bucket_level(tokens_key, tpm, now) or 0
local wait, exhausted = 0, ''
if rpm > 0 and requests < 1 then
  wait, exhausted = (1 - requests) * 60000 / rpm, 'requests'
end
if tpm > 0 and estimate >= 0 then
  local need = math.min(math.max(estimate, 1), tpm)
  if tokens < need and (need - tokens) * 60000 / tpm > wait then
    wait, exhausted = (need - tokens) * 60000 / tpm, 'tokens'
  end
end
if exhausted == '' then
  if rpm > 0 then
    requests = requests - 1
  end
  if tpm > 0 and estimate > 0 then
    tokens = tokens - estimate
  end
end
if rpm > 0 then
  store_bucket(requests_key, rpm, requests, now)
end
if tpm > 0 then
  store_bucket(tokens_key, tpm, tokens, now)
end
return {exhausted, tostring(wait), tostring(requests), tostring(tokens)}
