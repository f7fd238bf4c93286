-- Shared by the bench/*.lua wrk scripts (loaded with dofile from BENCH_DIR).
-- Environment: BENCH_KEY (API key), BENCH_MERCHANT, BENCH_CHANNEL, BENCH_DATA (directory with
-- the id / email files seed.py wrote), BENCH_SCENARIO (name printed in the RESULT line).

bench = {}

function bench.env(name, default)
   local value = os.getenv(name)
   if value == nil or value == "" then
      if default == nil then
         error(name .. " is not set")
      end
      return default
   end
   return value
end

function bench.lines(file)
   local path = bench.env("BENCH_DATA") .. "/" .. file
   local found = {}
   local handle = assert(io.open(path, "r"))
   for line in handle:lines() do
      if line ~= "" then
         found[#found + 1] = line
      end
   end
   handle:close()
   assert(#found > 0, path .. " is empty")
   return found
end

function bench.urlencode(text)
   return (string.gsub(text, "[^%w%-%._~]", function(c)
      return string.format("%%%02X", string.byte(c))
   end))
end

wrk.headers["Authorization"] = "Bearer " .. bench.env("BENCH_KEY")
wrk.headers["x-merchant"] = bench.env("BENCH_MERCHANT", "bench")
wrk.headers["x-channel"] = bench.env("BENCH_CHANNEL", "bench")

-- Give every wrk thread a number (for distinct values and random seeds). setup() and done()
-- run in wrk's main Lua state; bench.threads lets done() read the threads' globals
-- (thread:get) for counters kept by a script's response() (see checkout_flow.lua).
local next_thread = 0
bench.threads = {}
function setup(thread)
   next_thread = next_thread + 1
   thread:set("thread_number", next_thread)
   bench.threads[#bench.threads + 1] = thread
end

-- For a script's init(): seed this thread's random numbers and return a copy of wrk.headers
-- that its request() may add to (e.g. an Idempotency-Key).
function bench.thread_headers()
   math.randomseed(os.time() * 1000 + (thread_number or 0))
   local headers = {}
   for name, value in pairs(wrk.headers) do
      headers[name] = value
   end
   return headers
end

-- Sum of a numeric global over all wrk threads (0 where a thread never set it).
function bench.thread_sum(name)
   local total = 0
   for _, thread in ipairs(bench.threads) do
      total = total + (tonumber(thread:get(name)) or 0)
   end
   return total
end

-- A script may set bench.result_extra = function(seconds) return " key=value ..." end to add
-- fields to its RESULT line.
bench.result_extra = nil

-- One parseable line per run; run.sh collects these. Latencies are in microseconds in wrk.
-- non2xx is wrk's count of statuses above 399 (1xx-3xx are not counted).
function done(summary, latency, requests)
   local seconds = summary.duration / 1e6
   local e = summary.errors
   local extra = bench.result_extra and bench.result_extra(seconds) or ""
   io.write(string.format(
      "RESULT scenario=%s requests=%d rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f "
         .. "non2xx=%d socket_errors=%d%s\n",
      bench.env("BENCH_SCENARIO", "unnamed"),
      summary.requests,
      summary.requests / seconds,
      latency:percentile(50) / 1000,
      latency:percentile(90) / 1000,
      latency:percentile(99) / 1000,
      latency.max / 1000,
      e.status,
      e.connect + e.read + e.write + e.timeout,
      extra
   ))
end
