-- Scenario post_transaction: POST /api/v0/checkout/orders/{id}/payments/{pid}/transactions on a
-- random one of the BENCH_TX_ORDERS (200) orders in tx_targets.txt, each holding one payment.
-- Every request appends a transaction that moves no money (odd requests: an "open" event;
-- even: a failed capture of 1), so the ledger never fills up and every request is accepted.
-- Each one is a write transaction: a payment_transactions ledger row, the order's next version
-- (lastModified, the ledger count in its meta) and a history entry.
-- A payment holds at most 1,000 transactions; at ~2,000 req/s over warm-up + a 10 s run that
-- is ~120 per payment. Raise BENCH_TX_ORDERS for much longer runs.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local paths = {}
for i, line in ipairs(bench.lines("tx_targets.txt")) do
   local order_id, payment_id = line:match("^(%S+)%s+(%S+)$")
   assert(order_id, "tx_targets.txt: bad line " .. line)
   paths[i] = "/api/v0/checkout/orders/" .. order_id .. "/payments/" .. payment_id .. "/transactions"
end
local counter = 0
local headers = {}
local bodies = {
   '{"event":"open","isSuccess":true,"pspEvent":"bench-open","requestJson":"{}",'
      .. '"responseJson":"{}"}',
   '{"event":"capture","isSuccess":false,"amount":1,"pspEvent":"bench-capture-failed",'
      .. '"requestJson":"{}","responseJson":"{\\"error\\":\\"declined\\"}"}',
}
wrk.headers["Content-Type"] = "application/json"

function init(args)
   headers = bench.thread_headers()
end

function request()
   counter = counter + 1
   return wrk.format("POST", paths[math.random(#paths)], headers, bodies[counter % 2 + 1])
end
