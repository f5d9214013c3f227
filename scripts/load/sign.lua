-- wrk script: POST /api/sign with a different document each request.
-- TOKEN and IDENTITY come from the environment (scripts/load.sh sets them).
local token = os.getenv("TOKEN")
local identity = os.getenv("IDENTITY")
local counter = 0

request = function()
  counter = counter + 1
  -- 32 hex digits of a counter-derived string, padded to a SHA-256 hex length.
  local hex = string.format("%064x", counter * 2654435761 % 18446744073709551557)
  local body = '{"identity":"' .. identity .. '","content_sha256":"' .. hex .. '"}'
  return wrk.format("POST", "/api/sign", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("result: %.0f requests/s, p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, non-2xx or errors: %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, errors))
end
