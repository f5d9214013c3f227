-- wrk script: POST /api/sign with "witnessed": true, paced to about RATE
-- requests a second over all connections (CONNECTIONS of them: each waits
-- CONNECTIONS/RATE s between its requests), counting answers that did not meet
-- the quorum. TOKEN and IDENTITY come from the environment (scripts/load.sh).
local token = os.getenv("TOKEN")
local identity = os.getenv("IDENTITY")
local rate = tonumber(os.getenv("RATE") or "1000")
local connections = tonumber(os.getenv("CONNECTIONS") or "64")
local gap_ms = connections * 1000 / rate
local counter = 0
local threads = {}
local thread_id = 0
unwitnessed = 0

setup = function(thread)
  thread:set("thread_id", #threads + 1)
  table.insert(threads, thread)
end

request = function()
  counter = counter + 1
  -- A different document in each thread: thread_id goes in the high digits.
  local hex = string.format("%032x%032x", thread_id or 0, counter)
  local body = '{"identity":"' .. identity .. '","content_sha256":"' .. hex .. '","witnessed":true}'
  return wrk.format("POST", "/api/sign", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }, body)
end

delay = function()
  return gap_ms
end

response = function(status, headers, body)
  if status ~= 200 or not body:find('"quorum":true', 1, true) then
    unwitnessed = unwitnessed + 1
  end
end

dofile("scripts/load/report.lua")
done = function(summary, latency, requests)
  report(summary, latency)
  local missing = 0
  for _, t in ipairs(threads) do missing = missing + t:get("unwitnessed") end
  io.write(string.format("answers without a witnessed proof: %d\n", missing))
end
