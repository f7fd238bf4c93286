-- Scenario demo_flow: the demo checkout over HTTP (no browser) through both sandbox adapters
-- (adapters.md §5, §6; docs/demo.md), over and over, 32 flows at a time:
--   1. POST /orders                                      {"cart": two units of 249}   201 {"id"}
--   2. PUT  /orders/{id}/customer/shipping               {country SE}                 200
--   3. POST <shipping>/orders/{id}/shippings             (no body)                    200 {"shippingId"}
--   4. PUT  <shipping>/orders/{id}/shippings/{sid}       {"selectedOption":"express"} 200
--   5. POST <psp>/orders/{id}/payments                   (no body)                    200 {"paymentId"}
--   6. POST <psp>/orders/{id}/payments/{pid}/authorize   {"scenario":"approve"}       200
--   7. PUT  /orders/{id}/state                           {"currentStatus":"completed"} 200
--   8. POST <psp>/api/order/v1/orders/{id}/payments/{pid}/capture (a direct action call) 200
-- Steps 3-6 make the adapters' own requests to kassa and kassa's hook calls back to them
-- (in-process): the shipping's hooks reprice in step 4's write and the payment's /total hook
-- follows; the approve path writes the open transaction and the order becomes accepted; the
-- capture writes the capture transaction. The channel's three configurations are set by run.sh.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")

SCENARIO = "demo_flow"
local base = "/api/v0/checkout/orders"
local shipping = "/checkout/sandbox-shipping-adapter/api/checkout/v1/orders"
local psp = "/checkout/sandbox-psp-adapter/api/checkout/v1/orders"
local actions = "/checkout/sandbox-psp-adapter/api/order/v1/orders"

STEPS = {
   {
      name = "create order",
      method = "POST",
      status = 201,
      id = "order_id",
      path = function(flow)
         return base
      end,
      body = '{"currency":"SEK","country":"SE","cart":{"items":[{"sku":"canvas-tote",'
         .. '"name":"Canvas tote","quantity":2,"vatRate":0.25,'
         .. '"total":{"includingVat":498,"excludingVat":398.4}}]}}',
   },
   {
      name = "PUT shipping address",
      method = "PUT",
      status = 200,
      path = function(flow)
         return base .. "/" .. flow.order_id .. "/customer/shipping"
      end,
      body = '{"givenName":"Ada","familyName":"Lovelace","city":"Stockholm","country":"SE"}',
   },
   {
      name = "create shipping",
      method = "POST",
      status = 200,
      id = "shipping_id",
      id_field = "shippingId",
      path = function(flow)
         return shipping .. "/" .. flow.order_id .. "/shippings"
      end,
   },
   {
      name = "select option",
      method = "PUT",
      status = 200,
      path = function(flow)
         return shipping .. "/" .. flow.order_id .. "/shippings/" .. flow.shipping_id
      end,
      body = '{"selectedOption":"express"}',
   },
   {
      name = "create payment",
      method = "POST",
      status = 200,
      id = "payment_id",
      id_field = "paymentId",
      path = function(flow)
         return psp .. "/" .. flow.order_id .. "/payments"
      end,
   },
   {
      name = "authorise",
      method = "POST",
      status = 200,
      path = function(flow)
         return psp .. "/" .. flow.order_id .. "/payments/" .. flow.payment_id .. "/authorize"
      end,
      body = '{"scenario":"approve"}',
   },
   {
      name = "complete",
      method = "PUT",
      status = 200,
      path = function(flow)
         return base .. "/" .. flow.order_id .. "/state"
      end,
      body = '{"currentStatus":"completed"}',
   },
   {
      name = "capture",
      method = "POST",
      status = 200,
      path = function(flow)
         return actions .. "/" .. flow.order_id .. "/payments/" .. flow.payment_id .. "/capture"
      end,
   },
}

dofile(os.getenv("BENCH_DIR") .. "/flow.lua")
