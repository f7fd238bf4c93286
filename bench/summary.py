"""Turn the RESULT / RSS lines bench/run.sh collected into the summary table.

    python3 bench/summary.py RESULTS_FILE RSS_FILE HEADER_FILE

RESULTS_FILE holds the ``RESULT key=value ...`` lines printed by the wrk scripts' ``done()``;
RSS_FILE holds ``pid role vmhwm_kb vmrss_kb`` lines; HEADER_FILE is printed first. Standard
library only.
"""

from __future__ import annotations

import sys
from pathlib import Path

# scenario -> (min req/s or None, max p99 ms or None, description)
GOALS: dict[str, tuple[float | None, float | None, str]] = {
    "get_order": (4000, 15, "GET one order"),
    "patch_attributes": (1000, 40, "PATCH attributes, ~100 orders"),
    "list_email": (None, 50, "list ?billing_emails=<addr>, 100k"),
    "list_status": (None, 50, "list ?status=completed&limit=20, 100k"),
}
RSS_GOAL_MB = 200


def _goal_text(min_rps: float | None, max_p99: float | None) -> str:
    parts = []
    if min_rps is not None:
        parts.append(f">= {min_rps:,.0f} req/s")
    if max_p99 is not None:
        parts.append(f"p99 <= {max_p99:g} ms")
    return ", ".join(parts)


def _parse(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split()[1:] if "=" in part)


def main() -> int:
    results_path, rss_path, header_path = (Path(p) for p in sys.argv[1:4])
    out: list[str] = [header_path.read_text().rstrip("\n"), ""]
    rows = [
        _parse(line) for line in results_path.read_text().splitlines() if line.startswith("RESULT ")
    ]
    head = (
        f"{'scenario':<18} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8} {'sock err':>8}"
        f"  {'goal':<30} verdict"
    )
    out += [head, "-" * len(head)]
    missed = 0
    for row in rows:
        name = row.get("scenario", "?")
        rps, p50, p99 = float(row["rps"]), float(row["p50_ms"]), float(row["p99_ms"])
        non2xx, sock = int(row["non2xx"]), int(row["socket_errors"])
        min_rps, max_p99, _ = GOALS.get(name, (None, None, ""))
        problems = []
        if int(row["requests"]) == 0:
            problems.append("no responses")
        if min_rps is not None and rps < min_rps:
            problems.append("req/s")
        if max_p99 is not None and p99 > max_p99:
            problems.append("p99")
        if non2xx or sock:
            problems.append("errors")
        verdict = "ok" if not problems else "MISS (" + ", ".join(problems) + ")"
        missed += bool(problems)
        out.append(
            f"{name:<18} {rps:>9,.1f} {p50:>8.2f} {p99:>8.2f} {non2xx:>8} {sock:>8}"
            f"  {_goal_text(min_rps, max_p99):<30} {verdict}"
        )
    out.append("")
    out.append(f"peak RSS (VmHWM) per server process, goal <= {RSS_GOAL_MB} MB each:")
    for line in rss_path.read_text().splitlines():
        pid, role, hwm_kb, rss_kb = line.split()
        hwm = int(hwm_kb) / 1024
        verdict = "ok" if hwm <= RSS_GOAL_MB else "MISS"
        missed += hwm > RSS_GOAL_MB
        out.append(
            f"  pid {pid:<8} {role:<10} peak {hwm:7.1f} MB   (now {int(rss_kb) / 1024:6.1f} MB)"
            f"  {verdict}"
        )
    out.append("")
    out.append(f"goals missed: {missed}" if missed else "all goals met")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
