"""Server-generated ids: prefix + 26 letters, every letter equally likely."""

from __future__ import annotations

import collections
import re
import string

from kassa import ids


def test_ids_have_the_prefix_and_26_letters() -> None:
    for make, prefix in ((ids.order_id, "o_"), (ids.item_id, "ci_"), (ids.callback_id, "oc_")):
        value = make()
        assert re.fullmatch(re.escape(prefix) + "[A-Za-z]{26}", value), value


def test_every_letter_comes_from_the_same_number_of_byte_values() -> None:
    kept = [b for b in range(256) if b not in ids._DROP]
    per_letter = collections.Counter(ids._MAP[b] for b in kept)
    assert set(per_letter) == set(string.ascii_letters.encode())
    assert set(per_letter.values()) == {4}


def test_ids_use_every_letter_and_do_not_repeat() -> None:
    drawn = [ids.new_id("x_") for _ in range(2000)]
    assert len(set(drawn)) == len(drawn)
    assert set("".join(d[2:] for d in drawn)) == set(string.ascii_letters)
