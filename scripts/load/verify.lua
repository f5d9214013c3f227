-- wrk script: POST /api/verify with the proof files listed in PROOF_LIST
-- ("<content sha256 hex> <path>" per line; scripts/load.sh makes them).
local bodies = {}
local counter = 0

-- Proof files hold base64, digits, newlines and ASCII/UTF-8 text: only the
-- newlines need escaping inside a JSON string.
local function json_string(s)
  return '"' .. s:gsub('\\', '\\\\'):gsub('"', '\\"'):gsub('\n', '\\n') .. '"'
end

init = function(args)
  for line in io.lines(os.getenv("PROOF_LIST")) do
    local hex, path = line:match("^(%x+) (.+)$")
    local f = assert(io.open(path, "rb"))
    local proof = f:read("*a")
    f:close()
    bodies[#bodies + 1] = '{"proof":' .. json_string(proof) .. ',"content_sha256":"' .. hex .. '"}'
  end
end

request = function()
  counter = counter + 1
  return wrk.format("POST", "/api/verify", { ["Content-Type"] = "application/json" },
    bodies[counter % #bodies + 1])
end

done = function(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format("result: %.0f requests/s, p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, non-2xx or errors: %d\n",
    summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, errors))
end
