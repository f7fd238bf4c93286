-- Scenario checkout_flow: the public client flow, over and over, 32 flows at a time:
--   1. POST /orders                         {"cart": one item of 12.5}     201 {"id": order}
--   2. PUT  /orders/{id}/customer/shipping  {"givenName", ...}             200
--   3. POST /orders/{id}/shippings          {"name", total 7.5, vatRate}   201 {"id": shipping}
--   4. POST /orders/{id}/payments           {"amount": 20, ...}            201 {"id": payment}
--   5. PUT  /orders/{id}/state              {"currentStatus":"completed"}  200
-- (the order total is 12.5 + 7.5 = 20, covered by the payment, so step 5 is allowed).
--
-- The flows are run by flow.lua (how they are kept apart and counted is described there).
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

SCENARIO = "checkout_flow"

local base = "/api/v0/checkout/orders"
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
      name = "PUT customer/shipping",
      method = "PUT",
      status = 200,
      path = function(flow)
         return base .. "/" .. flow.order_id .. "/customer/shipping"
      end,
      body = '{"givenName":"A","familyName":"B","country":"se"}',
   },
   {
      name = "POST shipping",
      method = "POST",
      status = 201,
      id = "shipping_id",
      path = function(flow)
         return base .. "/" .. flow.order_id .. "/shippings"
      end,
      body = '{"name":"PostNord","total":{"includingVat":7.5},"vatRate":0.25}',
   },
   {
      name = "POST payment",
      method = "POST",
      status = 201,
      id = "payment_id",
      path = function(flow)
         return base .. "/" .. flow.order_id .. "/payments"
      end,
      body = '{"reference":"r","name":"card","type":"default","amount":20}',
   },
   {
      name = "PUT state completed",
      method = "PUT",
      status = 200,
      path = function(flow)
         return base .. "/" .. flow.order_id .. "/state"
      end,
      body = '{"currentStatus":"completed"}',
   },
}

dofile(os.getenv("BENCH_DIR") .. "/flow.lua")
