"""Turn the RESULT / RSS lines bench/run.sh collected into the summary table.

    python3 bench/summary.py RESULTS_FILE RSS_FILE HEADER_FILE

RESULTS_FILE holds the ``RESULT key=value ...`` lines printed by the wrk scripts' ``done()``,
to which run.sh appends ``server_cpu=`` and ``client_cpu=`` (cores used by the server
processes and by wrk during the measured run); RSS_FILE holds ``pid role vmhwm_kb vmrss_kb``
lines; HEADER_FILE is printed first. Standard library only.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple


class Goal(NamedTuple):
    min_rps: float | None = None
    max_p99: float | None = None
    min_flows: float | None = None  # complete checkout flows per second (checkout_flow)


GOALS: dict[str, Goal] = {
    "get_order": Goal(min_rps=4000, max_p99=15),
    "patch_attributes": Goal(min_rps=1000, max_p99=40),
    "list_email": Goal(max_p99=50),
    "list_status": Goal(max_p99=50),
    "post_transaction": Goal(min_rps=1000, max_p99=40),
    "checkout_flow": Goal(min_flows=150),
}
RSS_GOAL_MB = 200


def _goal_text(goal: Goal) -> str:
    parts = []
    if goal.min_rps is not None:
        parts.append(f">= {goal.min_rps:,.0f} req/s")
    if goal.min_flows is not None:
        parts.append(f">= {goal.min_flows:,.0f} flows/s")
    if goal.max_p99 is not None:
        parts.append(f"p99 <= {goal.max_p99:g} ms")
    return ", ".join(parts)


def _cores(row: dict[str, str], key: str) -> str:
    return f"{float(row[key]):.2f}" if key in row else "-"


def _parse(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split()[1:] if "=" in part)


def main() -> int:
    results_path, rss_path, header_path = (Path(p) for p in sys.argv[1:4])
    out: list[str] = [header_path.read_text().rstrip("\n"), ""]
    rows = [
        _parse(line) for line in results_path.read_text().splitlines() if line.startswith("RESULT ")
    ]
    head = (
        f"{'scenario':<18} {'req/s':>9} {'flows/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}"
        f" {'sock err':>8} {'cpu srv':>7} {'cpu wrk':>7}  {'goal':<30} verdict"
    )
    out += [head, "-" * len(head)]
    missed = 0
    for row in rows:
        name = row.get("scenario", "?")
        rps, p50, p99 = float(row["rps"]), float(row["p50_ms"]), float(row["p99_ms"])
        # checkout_flow counts every non-2xx itself; wrk's own count stops at statuses > 399
        non2xx = max(int(row["non2xx"]), int(row.get("non2xx_all", 0)))
        sock = int(row["socket_errors"])
        flow_errors = int(row.get("flow_errors", 0))
        flows = float(row["flows_per_s"]) if "flows_per_s" in row else None
        goal = GOALS.get(name, Goal())
        problems = []
        if int(row["requests"]) == 0:
            problems.append("no responses")
        if goal.min_rps is not None and rps < goal.min_rps:
            problems.append("req/s")
        if goal.min_flows is not None and (flows is None or flows < goal.min_flows):
            problems.append("flows/s")
        if goal.max_p99 is not None and p99 > goal.max_p99:
            problems.append("p99")
        if non2xx or sock or flow_errors:
            problems.append("errors")
        verdict = "ok" if not problems else "MISS (" + ", ".join(problems) + ")"
        missed += bool(problems)
        flows_text = f"{flows:,.1f}" if flows is not None else "-"
        out.append(
            f"{name:<18} {rps:>9,.1f} {flows_text:>8} {p50:>8.2f} {p99:>8.2f} {non2xx:>8}"
            f" {sock:>8} {_cores(row, 'server_cpu'):>7} {_cores(row, 'client_cpu'):>7}"
            f"  {_goal_text(goal):<30} {verdict}"
        )
        if flow_errors:
            out.append(f"{'':<18} {flow_errors} flows ended in an error (see the wrk output)")
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
