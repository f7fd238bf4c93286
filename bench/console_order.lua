-- Scenario console_order: the console's order page (summary, payments with ledger, timeline,
-- callbacks, deliveries) of one order, signed in as a viewer (BENCH_CONSOLE_COOKIE).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

wrk.method = "GET"
wrk.path = "/console/orders/" .. bench.lines("get_id.txt")[1]
wrk.headers["Authorization"] = nil
wrk.headers["Cookie"] = "kassa_console=" .. bench.env("BENCH_CONSOLE_COOKIE")
