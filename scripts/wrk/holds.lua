-- wrk script for scripts/bench-wrk.sh: every request is a stock hold,
-- POST /api/sales/{sale}/holds {"quantity":1}, sent as a user picked in
-- turn from the tokens file, with an idempotency key never used before
-- (thread, connection-independent counter, and a random run tag).
-- WRK_TOKENS: a file whose first line is the sale id and the rest tokens.
local tokens = {}
local sale
local tag
local counter = 0
local next_user = 0
local threads = {}
local count = 0

function setup(thread)
  count = count + 1
  thread:set("thread_no", count)
  table.insert(threads, thread)
end

function init(args)
  -- thread_no is the global setup() set in this thread's own Lua state; a
  -- local of that name here would hide it, and every thread would send the
  -- same keys (answered as replays, not new holds).
  assert(thread_no, "setup() gives every thread its number")
  local path = os.getenv("WRK_TOKENS")
  local f = assert(io.open(path, "r"), "WRK_TOKENS must name the tokens file")
  sale = f:read("*l")
  for line in f:lines() do
    if #line > 0 then table.insert(tokens, line) end
  end
  f:close()
  math.randomseed(os.time() + thread_no * 7919)
  tag = string.format("%08x", math.random(0, 0x7fffffff))
  -- Threads start at different users so they do not move in step.
  next_user = (thread_no * 7919) % #tokens
  wrk.method = "POST"
  wrk.path = "/api/sales/" .. sale .. "/holds"
  wrk.body = '{"quantity":1}'
end

function request()
  counter = counter + 1
  next_user = next_user % #tokens + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. tokens[next_user],
    ["Idempotency-Key"] = string.format("wrk-%s-%d-%d", tag, thread_no, counter),
  }
  return wrk.format("POST", wrk.path, headers, wrk.body)
end

local statuses = {}
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  -- One line a script can parse; latencies in ms. Non-2xx and socket errors
  -- both count as errors here (a hold is 201; 409 would be a refusal, and the
  -- sale is far too large to sell out in a run).
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout
  io.write(string.format(
    "wrk requests=%d rps=%.1f errors=%d non2xx=%d p50_ms=%.3f p99_ms=%.3f p999_ms=%.3f max_ms=%.3f\n",
    summary.requests, summary.requests / (summary.duration / 1e6), errors, summary.errors.status,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency:percentile(99.9) / 1000,
    latency.max / 1000))
end
