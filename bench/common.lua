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

-- Give every wrk thread a number (for distinct values and random seeds).
local next_thread = 0
function setup(thread)
   next_thread = next_thread + 1
   thread:set("thread_number", next_thread)
end

-- One parseable line per run; run.sh collects these. Latencies are in microseconds in wrk.
function done(summary, latency, requests)
   local seconds = summary.duration / 1e6
   local e = summary.errors
   io.write(string.format(
      "RESULT scenario=%s requests=%d rps=%.1f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f "
         .. "non2xx=%d socket_errors=%d\n",
      bench.env("BENCH_SCENARIO", "unnamed"),
      summary.requests,
      summary.requests / seconds,
      latency:percentile(50) / 1000,
      latency:percentile(90) / 1000,
      latency:percentile(99) / 1000,
      latency.max / 1000,
      e.status,
      e.connect + e.read + e.write + e.timeout
   ))
end
