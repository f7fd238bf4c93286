"""Adapters: clients of kassa's public API that serve routes of their own (adapters.md).

The framework (``client``, ``converge``, ``calls``, ``signatures``, ``remainder``, ``errors``)
is what every adapter sits on; ``nonpsp`` is the built-in Non-PSP adapter written on it;
``registry`` names the built-in adapters. An adapter reads and writes orders and
configurations only through kassa's HTTP routes, with its own key and ``x-adapterid`` —
in-process by loopback dispatch, or over the network when it runs alone (``kassa adapter
serve``). Nothing here touches kassa's tables or its order code; ``kassa.adapter_host`` wires
adapters into a running kassa.
"""
