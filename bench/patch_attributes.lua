-- Scenario patch_attributes: PATCH /api/v0/checkout/orders/{id}/attributes on a random one of
-- the ~100 orders in patch_ids.txt. Each request sets one of 8 keys (bench0..bench7) to a value
-- no other request uses, so every request changes the order (new version + history entry)
-- while the documents stay about the same size over a run.
-- BENCH_IDEMPOTENCY=1 adds a unique Idempotency-Key header to every request (one more write
-- transaction per request: the key is claimed before the order transaction).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local ids = bench.lines("patch_ids.txt")
local counter = 0
local idempotency = os.getenv("BENCH_IDEMPOTENCY") == "1"
local run_id = tostring(os.time())
local headers = {}
wrk.headers["Content-Type"] = "application/json"

function init(args)
   headers = bench.thread_headers()
end

function request()
   counter = counter + 1
   local id = ids[math.random(#ids)]
   local body = string.format('{"bench%d":"t%d-%d"}', counter % 8, thread_number or 0, counter)
   if idempotency then
      headers["Idempotency-Key"] = string.format("bench-%s-%d-%d", run_id, thread_number or 0, counter)
   end
   return wrk.format("PATCH", "/api/v0/checkout/orders/" .. id .. "/attributes", headers, body)
end
