-- Scenario console_orders: the console's orders page (newest 25 of the merchant's 100k orders,
-- with the list's total), signed in as a viewer (BENCH_CONSOLE_COOKIE, set by run.sh).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

wrk.method = "GET"
wrk.path = "/console/orders"
wrk.headers["Authorization"] = nil
wrk.headers["Cookie"] = "kassa_console=" .. bench.env("BENCH_CONSOLE_COOKIE")
