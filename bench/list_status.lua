-- Scenario list_status: GET /api/v0/checkout/orders?status=completed&limit=20 (first page,
-- newest first) on the seeded tenant; about 30% of its 100k orders match, and the response
-- carries their count and value sum.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

wrk.method = "GET"
wrk.path = "/api/v0/checkout/orders?status=" .. bench.env("BENCH_STATUS", "completed") .. "&limit=20"
