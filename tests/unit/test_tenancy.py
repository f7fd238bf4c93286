"""The one tenancy rule (``keys.Grant.admits``) and the two ways a route names its tenant:
headers (api §1.4) and path (adapters §2.1)."""

from __future__ import annotations

import pytest

from kassa.auth.keys import Grant, path_principal_of, principal_of
from kassa.errors import Forbidden, MissingHeader, Unauthorized

ROW = ("k1", "m1", '["se"]', "erp", "2026-01-01T00:00:00.000Z", None)
REVOKED = (*ROW[:5], "2026-01-02T00:00:00.000Z")


def test_grant_admits_its_merchant_and_channels() -> None:
    some = Grant("m1", ("se", "no"))
    assert some.admits("m1", "se") and some.admits("m1", "no") and some.admits("m1")
    assert not some.admits("m1", "dk")
    assert not some.admits("m2") and not some.admits("m2", "se")
    every = Grant("m1", None)
    assert every.admits("m1", "anything") and not every.admits("M1", "se")


def test_path_tenant_ignores_nothing_but_headers() -> None:
    principal = path_principal_of(ROW, merchant="m1", channel="se", adapter=None)
    assert (principal.merchant, principal.channel, principal.actor_adapter) == ("m1", "se", "erp")
    assert path_principal_of(ROW, merchant="m1", channel=None, adapter="a").channel == ""
    for merchant, channel in (("m2", "se"), ("m1", "no"), ("m1", "x" * 129), ("m" * 129, None)):
        with pytest.raises(Forbidden):
            path_principal_of(ROW, merchant=merchant, channel=channel, adapter=None)
    for row in (None, REVOKED):
        with pytest.raises(Unauthorized):
            path_principal_of(row, merchant="m2", channel="se", adapter=None)


def test_header_tenant_keeps_its_precedence() -> None:
    assert principal_of(ROW, merchant="m1", channel="se", adapter=None).channel == "se"
    with pytest.raises(MissingHeader):
        principal_of(ROW, merchant="m1", channel=None, adapter=None)
    with pytest.raises(Forbidden):
        principal_of(ROW, merchant="m1", channel="no", adapter=None)
    # the events API: the merchant only, the channel sent kept for the fingerprint
    events = principal_of(ROW, merchant="m1", channel="no", adapter=None, channel_required=False)
    assert events.channel == "no"
