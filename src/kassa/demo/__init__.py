"""The demo storefront at ``/demo``: a small server-rendered shop over kassa's public contracts.

It is a client like any other: it reads and writes orders through the Order API and calls the
sandbox adapters' and the Non-PSP adapter's routes over HTTP with its own storefront key
(in-process by loopback dispatch), never kassa's internals. ``catalog`` holds the products,
``shop`` the HTTP client, ``setup`` the demo tenant's configurations, ``storefront`` the pages.
``kassa.demo_host`` wires it into a kassa whose sandbox adapters are mounted.
"""
