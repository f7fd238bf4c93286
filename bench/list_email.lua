-- Scenario list_email: GET /api/v0/checkout/orders?billing_emails=<address>, rotating over
-- addresses that exist in the seeded tenant (each matches a handful of its 100k orders).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

local paths = {}
for i, email in ipairs(bench.lines("emails.txt")) do
   paths[i] = "/api/v0/checkout/orders?billing_emails=" .. bench.urlencode(email)
end
local counter = 0

function init(args)
   counter = (thread_number or 0) * 7919
end

function request()
   counter = counter + 1
   return wrk.format("GET", paths[counter % #paths + 1])
end
