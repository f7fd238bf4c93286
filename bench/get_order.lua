-- Scenario get_order: GET /api/v0/checkout/orders/{id} of one order (3 cart items, 1 consent).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

wrk.method = "GET"
wrk.path = "/api/v0/checkout/orders/" .. bench.lines("get_id.txt")[1]
