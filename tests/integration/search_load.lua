-- wrk script for the cluster test: POSTs one search to the router and counts answers that
-- are partial or not 200, so the test can require zero failed searches under load.
local body_file = os.getenv("VS_WRK_BODY")
local f = assert(io.open(body_file, "r"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  bad = 0
  partial = 0
  ok = 0
end

function response(status, headers, body)
  if status ~= 200 then
    bad = bad + 1
  elseif string.find(body, '"partial":true', 1, true) then
    partial = partial + 1
  else
    ok = ok + 1
  end
end

function done(summary, latency, requests)
  local b, p, o = 0, 0, 0
  for _, t in ipairs(threads) do
    b = b + t:get("bad")
    p = p + t:get("partial")
    o = o + t:get("ok")
  end
  io.write(string.format("searches ok %d partial %d failed %d socket_errors %d\n", o, p, b,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
