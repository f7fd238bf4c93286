-- Scenario nonpsp_flow: a checkout through the built-in Non-PSP adapter (adapters.md §4, the
-- steps of Norce's "Non-PSP adapter" tutorial), over and over, 32 flows at a time:
--   1. POST /orders                                  {"cart": one item of 12.5}  201 {"id"}
--   2. POST /orders/{id}/shippings                   {total 7.5, vatRate}        201 {"id"}
--   3. POST <adapter>/orders/{id}/payments           (no body)                   200 {"paymentId"}
--   4. PUT  /orders/{id}/cart                        {quantity 2, total 25}      200
--      (the adapter's /total hook moves the payment amount to 32.5 in the same write)
--   5. PUT  <adapter>/orders/{id}/payments/{pid}     {"selectedPaymentMethod"}   200
--   6. POST <adapter>/orders/{id}/payments/{pid}/complete                       200
-- The channel's nonpsp_adapter configuration (methods invoice and card) is set by run.sh.
-- The flows are run by flow.lua (how they are kept apart and counted is described there).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

SCENARIO = "nonpsp_flow"
local base = "/api/v0/checkout/orders"
local adapter = "/checkout/nonpsp-adapter/api/checkout/v1/orders"

STEPS = {
   {
      name = "create order",
      method = "POST",
      status = 201,
      id = "order_id",
      path = function(flow)
         return base
      end,
      body = '{"cart":{"items":[{"name":"T-Shirt","quantity":1,"total":{"includingVat":12.5}}]}}',
   },
   {
      name = "POST shipping",
      method = "POST",
      status = 201,
      path = function(flow)
         return base .. "/" .. flow.order_id .. "/shippings"
      end,
      body = '{"name":"PostNord","total":{"includingVat":7.5},"vatRate":0.25}',
   },
   {
      name = "create Non-PSP payment",
      method = "POST",
      status = 200,
      id = "payment_id",
      id_field = "paymentId",
      path = function(flow)
         return adapter .. "/" .. flow.order_id .. "/payments"
      end,
   },
   {
      name = "PUT cart",
      method = "PUT",
      status = 200,
      path = function(flow)
         return base .. "/" .. flow.order_id .. "/cart"
      end,
      body = '{"items":[{"name":"T-Shirt","quantity":2,"total":{"includingVat":25}}]}',
   },
   {
      name = "select method",
      method = "PUT",
      status = 200,
      path = function(flow)
         return adapter .. "/" .. flow.order_id .. "/payments/" .. flow.payment_id
      end,
      body = '{"selectedPaymentMethod":"invoice"}',
   },
   {
      name = "complete",
      method = "POST",
      status = 200,
      path = function(flow)
         return adapter .. "/" .. flow.order_id .. "/payments/" .. flow.payment_id .. "/complete"
      end,
   },
}

dofile(os.getenv("BENCH_DIR") .. "/flow.lua")
