"""The hook calls kassa made during one bench run, from two scrapes of ``/metrics``.

    python bench/callouts.py BEFORE AFTER [KIND]

prints ``hook_calls=N hook_mean_ms=M hook_p99_ms=P`` for the calls of KIND (default ``hook``)
between the scrapes: the count and mean are exact (``_count`` and ``_sum``); the p99 is read
from the histogram ``kassa_outbound_call_duration_seconds`` by linear interpolation inside its
bucket, as PromQL's ``histogram_quantile`` does, so it is as fine as the buckets (1, 2.5, 5, 10,
25 ms ...). Nothing is printed when no such call was made.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

METRIC = "kassa_outbound_call_duration_seconds"


def read(path: Path, kind: str) -> tuple[dict[float, float], float, float]:
    """(cumulative count by upper bound, sum, count) of the calls of ``kind``."""
    buckets: dict[float, float] = {}
    total = count = 0.0
    for family in text_string_to_metric_families(path.read_text()):
        if family.name != METRIC:
            continue
        for sample in family.samples:
            if sample.labels.get("kind") != kind:
                continue
            if sample.name == METRIC + "_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
            elif sample.name == METRIC + "_sum":
                total += sample.value
            elif sample.name == METRIC + "_count":
                count += sample.value
    return buckets, total, count


def quantile(q: float, buckets: dict[float, float]) -> float:
    bounds = sorted(buckets)
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        cumulative = buckets[bound]
        if cumulative >= rank:
            if math.isinf(bound):
                return lower  # beyond the last finite bucket: its bound is all that is known
            inside = cumulative - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, cumulative
    return lower


def main() -> int:
    before_path, after_path = Path(sys.argv[1]), Path(sys.argv[2])
    kind = sys.argv[3] if len(sys.argv) > 3 else "hook"
    before, sum_before, count_before = read(before_path, kind)
    after, sum_after, count_after = read(after_path, kind)
    calls = count_after - count_before
    if calls <= 0:
        return 0
    delta = {bound: after[bound] - before.get(bound, 0.0) for bound in after}
    mean_ms = (sum_after - sum_before) / calls * 1000
    p99_ms = quantile(0.99, delta) * 1000
    print(f"{kind}_calls={int(calls)} {kind}_mean_ms={mean_ms:.2f} {kind}_p99_ms={p99_ms:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
