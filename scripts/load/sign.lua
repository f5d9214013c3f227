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

-- scripts/load.sh runs wrk from the repository's root.
dofile("scripts/load/report.lua")
done = function(summary, latency, requests) report(summary, latency) end
