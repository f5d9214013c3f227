-- wrk script: POST /api/sign with "witnessed": true at RATE requests a second
-- (open loop: each of wrk's THREADS threads sends on a schedule of its own,
-- one request every THREADS/RATE s on whichever of its connections is free,
-- so a slow answer does not slow the offered rate while connections are
-- free), counting answers that did not meet the quorum. TOKEN and IDENTITY
-- come from the environment (scripts/load.sh).
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } civic_timespec;
int clock_gettime(int clock_id, civic_timespec *tp);
]]
local clock_monotonic = 1
local now_buffer = ffi.new("civic_timespec")
local function now_ms()
  ffi.C.clock_gettime(clock_monotonic, now_buffer)
  return tonumber(now_buffer.tv_sec) * 1000 + tonumber(now_buffer.tv_nsec) / 1e6
end

local token = os.getenv("TOKEN")
local identity = os.getenv("IDENTITY")
local rate = tonumber(os.getenv("RATE") or "1000")
local wrk_threads = tonumber(os.getenv("THREADS") or "2")
local gap_ms = wrk_threads * 1000 / rate -- between this thread's requests
local next_slot = nil
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
  local now = now_ms()
  -- The next slot of the schedule; one missed by more than a gap (no
  -- connection was free) is dropped, not sent late in a burst.
  local slot = math.max(next_slot or now, now - gap_ms)
  next_slot = slot + gap_ms
  return math.max(0, slot - now)
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
