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

-- scripts/load.sh runs wrk from the repository's root.
dofile("scripts/load/report.lua")
done = function(summary, latency, requests) report(summary, latency) end
