-- POST a JSON body read from a file, and report the run as one JSON line.
--
-- Usage: wrk ... -s wrk_post.lua <url> -- <body-file> [<bearer-token>]
--
-- Latency percentiles come from wrk's own histogram, which has microsecond
-- resolution; reading them here avoids the rounding of wrk's text report.

function init(args)
   local path = args[1]
   if path == nil then
      error("usage: wrk -s wrk_post.lua <url> -- <body-file> [<bearer-token>]")
   end
   local file = assert(io.open(path, "rb"))
   wrk.body = file:read("*a")
   file:close()
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Accept"] = "*/*"
   if args[2] ~= nil and args[2] ~= "" then
      wrk.headers["Authorization"] = "Bearer " .. args[2]
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   local fields = {
      string.format('"duration_us":%d', summary.duration),
      string.format('"requests":%d', summary.requests),
      string.format('"bytes":%d', summary.bytes),
      string.format('"errors_connect":%d', e.connect),
      string.format('"errors_read":%d', e.read),
      string.format('"errors_write":%d', e.write),
      string.format('"errors_status":%d', e.status),
      string.format('"errors_timeout":%d', e.timeout),
      string.format('"latency_min_us":%d', latency.min),
      string.format('"latency_max_us":%d', latency.max),
      string.format('"latency_mean_us":%.3f', latency.mean),
   }
   for _, p in ipairs({ 50, 90, 99, 99.9 }) do
      fields[#fields + 1] = string.format('"latency_p%s_us":%d', tostring(p), latency:percentile(p))
   end
   io.write("WRK_JSON {" .. table.concat(fields, ",") .. "}\n")
end
