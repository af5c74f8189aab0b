-- wrk script: POST points:spend of 1 point, each request with its own idempotency key.
-- delay() paces every connection, so that `connections × 1000 / delay_ms` ≈ the target rate.
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  thread_id = id
end

function delay()
  return tonumber(os.getenv("DELAY_MS") or "10")
end

request = function()
  counter = counter + 1
  local body = string.format('{"points": 1, "idempotency_key": "w%d-%d-%s"}', thread_id, counter, os.getenv("RUN") or "0")
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. os.getenv("KEY")}, body)
end
