-- The flow engine of the flow scenarios (checkout_flow.lua, nonpsp_flow.lua): each defines
-- STEPS, a list of {name, method, status, path(flow), body, id?, id_field?}, then runs
-- dofile(os.getenv("BENCH_DIR") .. "/flow.lua"). A step with `id` stores the value of the JSON
-- string field `id_field` (default "id") of its response in flow[id] for the later paths.
--
-- How the flows are kept apart. wrk gives request() and response() no connection identity,
-- and the responses of one thread's connections interleave in any order, so the flow a response
-- belongs to cannot be inferred from order. Instead every request carries an X-Request-Id
-- naming its flow and step ("<SCENARIO>-<thread>-<flow>-<step>"); kassa echoes that header on every
-- response (middleware.py), and response() looks the flow up by it. A flow is in exactly one
-- place: waiting for the response to its last request (pending[request id]) or ready for its
-- next step (the ready queue). request() sends the next step of the oldest ready flow, or
-- starts a new flow when none is ready. wrk sends a connection's next request only after the
-- previous response on it (no pipelining for scripts with request()), so each thread has at
-- most as many flows under way as it has connections: the 32 connections behave as 32 clients
-- that each run the flow from start to end, though a flow may move between connections of a
-- thread between two steps (a connection is not an identity the API can see anyway).
--
-- Counting. A flow is complete when its last step answers as expected. Any other status than the expected one
-- (each step's `status`), a 2xx without the expected "id", or a response without a known
-- X-Request-Id ends the flow as an error (flow_errors; the connection then starts a new flow).
-- Flows still under way when wrk stops are neither (flows_started also counts one flow whose
-- first request wrk builds, and never sends, to check the script before the run). wrk's latency figures are per request
-- (all five kinds mixed). The RESULT line gets flows=, flows_per_s= (completed flows / run
-- duration), flows_started=, flow_errors= and non2xx_all= (every non-2xx; wrk's own non2xx
-- counts only statuses above 399).
-- per-thread state (every wrk thread has its own Lua state); the counters are globals so that
-- done() can read them with thread:get()
flows_started = 0
flows_completed = 0
flow_errors = 0
non2xx_all = 0
local pending = {} -- request id -> flow waiting for that response
local ready = {} -- FIFO of flows whose next step can be sent
local ready_head, ready_tail = 1, 0
local next_flow = 0
local reported = 0
local headers = {}
wrk.headers["Content-Type"] = "application/json"

function init(args)
   for name, value in pairs(wrk.headers) do
      headers[name] = value
   end
end

function request()
   local flow
   if ready_head <= ready_tail then
      flow = ready[ready_head]
      ready[ready_head] = nil
      ready_head = ready_head + 1
   else
      next_flow = next_flow + 1
      flows_started = flows_started + 1
      flow = { number = next_flow, step = 1 }
   end
   local step = STEPS[flow.step]
   local request_id = string.format("%s-%d-%d-%d", SCENARIO, thread_number or 0, flow.number, flow.step)
   pending[request_id] = flow
   headers["X-Request-Id"] = request_id
   return wrk.format(step.method, step.path(flow), headers, step.body)
end

local function header(headers, wanted)
   local value = headers[wanted]
   if value ~= nil then
      return value
   end
   for name, v in pairs(headers) do
      if string.lower(name) == wanted then
         return v
      end
   end
   return nil
end

local function fail(flow, status, body, why)
   flow_errors = flow_errors + 1
   if reported < 3 then -- the first few, for the wrk log
      reported = reported + 1
      local step = flow and STEPS[flow.step].name or "?"
      io.write(string.format(
         SCENARIO .. ": thread %d, step %q: %s (status %d): %s\n",
         thread_number or 0, step, why, status, string.sub(body or "", 1, 300)
      ))
   end
end

function response(status, headers, body)
   if status < 200 or status > 299 then
      non2xx_all = non2xx_all + 1
   end
   local request_id = header(headers, "x-request-id")
   local flow = request_id and pending[request_id]
   if not flow then
      fail(nil, status, body, "response with unknown X-Request-Id " .. tostring(request_id))
      return
   end
   pending[request_id] = nil
   local step = STEPS[flow.step]
   if status ~= step.status then
      fail(flow, status, body, "expected " .. step.status)
      return
   end
   if step.id then
      local id = body and body:match('"' .. (step.id_field or "id") .. '":"([^"]+)"')
      if not id then
         fail(flow, status, body, "no id in the response")
         return
      end
      flow[step.id] = id
   end
   if flow.step == #STEPS then
      flows_completed = flows_completed + 1
      return
   end
   flow.step = flow.step + 1
   ready_tail = ready_tail + 1
   ready[ready_tail] = flow
end

bench.result_extra = function(seconds)
   local completed = bench.thread_sum("flows_completed")
   return string.format(
      " flows=%d flows_per_s=%.1f flows_started=%d flow_errors=%d non2xx_all=%d",
      completed,
      completed / seconds,
      bench.thread_sum("flows_started"),
      bench.thread_sum("flow_errors"),
      bench.thread_sum("non2xx_all")
   )
end
