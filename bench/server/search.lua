-- wrk script: POST /search with the query vectors of BODIES (one JSON body per line),
-- round robin; with ADD_PERCENT set, that share of requests instead POSTs /vectors with a
-- new document (a query vector under a fresh ID, unique per wrk thread).
local bodies = {}
local add_percent = tonumber(os.getenv("ADD_PERCENT") or "0")
local thread_no = 0
local threads = {}

function setup(thread)
  thread:set("tid", thread_no)
  thread_no = thread_no + 1
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(os.getenv("BODIES")) do bodies[#bodies + 1] = line end
  idx = math.random(#bodies)
  -- Unique across threads and runs (IDs stay below 2^53).
  next_id = 1000000000 + tid * 100000000000000 + (os.time() % 1000000) * 100000
  adds = 0
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  idx = idx % #bodies + 1
  if add_percent > 0 and math.random(100) <= add_percent then
    next_id = next_id + 1
    adds = adds + 1
    local vec = bodies[idx]:match('"vector":(%b[])')
    return wrk.format("POST", "/vectors", nil, '{"ids":[' .. next_id .. '],"vectors":[' .. vec .. '],"texts":["added by wrk"]}')
  end
  return wrk.format("POST", "/search", nil, bodies[idx])
end

function done(summary, latency, requests)
  local total_adds = 0
  for _, t in ipairs(threads) do total_adds = total_adds + (t:get("adds") or 0) end
  io.write(string.format("requests %d, adds %d, errors: connect %d read %d write %d status %d timeout %d\n",
    summary.requests, total_adds, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
  io.write(string.format("latency p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n",
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
