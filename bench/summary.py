"""Turn the RESULT / RSS lines bench/run.sh collected into the summary tables.

    python3 bench/summary.py RESULTS_FILE RSS_FILE HEADER_FILE [sqlite|postgres]

RESULTS_FILE holds the ``RESULT key=value ...`` lines printed by the wrk scripts' ``done()``,
to which run.sh appends ``server_cpu=`` and ``client_cpu=`` (cores used by the server
processes and by wrk during the measured run) and, on PostgreSQL, ``db_cpu=`` (the database
server); lines whose scenario is ``floor:NAME`` are bench/floor.py's run of scenario NAME.
RSS_FILE holds ``pid role vmhwm_kb vmrss_kb`` lines; HEADER_FILE is printed first. The last
argument picks the goals (default sqlite). Standard library only.

Two tables: every run with its goal and verdict, then kassa beside its floor (req/s, p50, p99,
each with the ratio kassa/floor) for the scenarios the floor ran. A goal on the ratio (kassa
req/s ÷ floor req/s) is not checked when the floor did not run (BENCH_FLOOR=0).

A scenario measured several times (BENCH_REPEAT) is reported by its median run — by flows/s for
a flow scenario, else by req/s; of an even number of runs the lower of the middle two — and the
verdict is that run's; a line below it gives the range of every run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NamedTuple

FLOOR = "floor:"


class Goal(NamedTuple):
    min_rps: float | None = None
    max_p99: float | None = None
    min_flows: float | None = None  # complete flows per second (the flow scenarios)
    min_ratio: float | None = None  # kassa req/s ÷ floor req/s (bench/floor.py)


GOALS: dict[str, dict[str, Goal]] = {
    "sqlite": {
        "get_order": Goal(min_rps=4000, max_p99=15, min_ratio=0.4),
        "patch_attributes": Goal(min_rps=1000, max_p99=40),
        "list_email": Goal(max_p99=50),
        "list_status": Goal(max_p99=50),
        "post_transaction": Goal(min_rps=1000, max_p99=40, min_ratio=0.5),
        "checkout_flow": Goal(min_flows=150),
        # issue 12: the console's pages within 150 ms p99 with 100,000 orders
        "console_orders": Goal(max_p99=150),
        "console_order": Goal(max_p99=150),
        "nonpsp_flow": Goal(min_flows=100),
        "demo_flow": Goal(min_flows=80),
    },
    # issue "PostgreSQL at full speed": relative to the floor on the same server
    "postgres": {
        "get_order": Goal(max_p99=15, min_ratio=0.5),
        "patch_attributes": Goal(max_p99=40),
        "list_email": Goal(max_p99=50),
        "list_status": Goal(max_p99=50),
        "post_transaction": Goal(max_p99=40, min_ratio=0.6),
        "checkout_flow": Goal(min_flows=150),
        "console_orders": Goal(max_p99=150),
        "console_order": Goal(max_p99=150),
        "nonpsp_flow": Goal(),
        "demo_flow": Goal(),
    },
}
RSS_GOAL_MB = 200


def _goal_text(goal: Goal) -> str:
    parts = []
    if goal.min_rps is not None:
        parts.append(f">= {goal.min_rps:,.0f} req/s")
    if goal.min_ratio is not None:
        parts.append(f">= {goal.min_ratio:g}x floor")
    if goal.min_flows is not None:
        parts.append(f">= {goal.min_flows:,.0f} flows/s")
    if goal.max_p99 is not None:
        parts.append(f"p99 <= {goal.max_p99:g} ms")
    return ", ".join(parts)


def _cores(row: dict[str, str], key: str) -> str:
    return f"{float(row[key]):.2f}" if key in row else "-"


def _parse(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split()[1:] if "=" in part)


def _figure(row: dict[str, str]) -> float:
    """What ranks the runs of a scenario: flows/s for a flow scenario, else req/s."""
    return float(row["flows_per_s"]) if "flows_per_s" in row else float(row["rps"])


def _medians(rows: list[dict[str, str]]) -> tuple[list[dict[str, str]], dict[str, str]]:
    """One row per scenario (in order of first appearance): its median run; and, for the
    scenarios run more than once, the range of their runs as text."""
    groups: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        groups.setdefault(row.get("scenario", "?"), []).append(row)
    medians, spreads = [], {}
    for name, runs in groups.items():
        ranked = sorted(runs, key=_figure)
        medians.append(ranked[(len(ranked) - 1) // 2])
        if len(runs) > 1:
            parts = [f"{len(runs)} runs, median shown"]
            for key, label, fmt in (
                ("flows_per_s", "flows/s", "{:,.1f}"),
                ("rps", "req/s", "{:,.1f}"),
                ("p99_ms", "p99 ms", "{:.2f}"),
            ):
                values = [float(r[key]) for r in runs if key in r]
                if values:
                    every = " ".join(fmt.format(v) for v in values)
                    parts.append(f"{label} {every}")
            spreads[name] = "; ".join(parts)
    return medians, spreads


def _ratio(kassa: float, floor: float) -> float | None:
    return kassa / floor if floor > 0 else None


def _ratio_text(ratio: float | None) -> str:
    return f"{ratio:.2f}x" if ratio is not None else "-"


def _errors(row: dict[str, str]) -> tuple[int, int, int]:
    # checkout_flow counts every non-2xx itself; wrk's own count stops at statuses > 399
    non2xx = max(int(row["non2xx"]), int(row.get("non2xx_all", 0)))
    return non2xx, int(row["socket_errors"]), int(row.get("flow_errors", 0))


def _floor_table(rows: list[dict[str, str]], goals: dict[str, Goal]) -> list[str]:
    """kassa beside its floor, for the scenarios both ran (the last run of each)."""
    kassa = {row["scenario"]: row for row in rows if not row["scenario"].startswith(FLOOR)}
    floor = {
        row["scenario"][len(FLOOR) :]: row for row in rows if row["scenario"].startswith(FLOOR)
    }
    names = [name for name in kassa if name in floor]
    if not names:
        return []
    head = (
        f"{'scenario':<18} {'req/s':>9} {'floor':>9} {'ratio':>6}  {'goal':<14}"
        f" {'p50 ms':>7} {'floor':>7} {'ratio':>6} {'p99 ms':>7} {'floor':>7} {'ratio':>6}"
        f"  goal"
    )
    out = ["", "kassa beside its floor (bench/floor.py), ratio = kassa / floor:", head]
    out.append("-" * len(head))
    for name in names:
        k, f = kassa[name], floor[name]
        goal = goals.get(name, Goal())
        cells = []
        ratio = _ratio(float(k["rps"]), float(f["rps"]))
        rps_goal = ""
        if goal.min_ratio is not None:
            met = ratio is not None and ratio >= goal.min_ratio
            rps_goal = f">= {goal.min_ratio:g}x {'ok' if met else 'MISS'}"
        cells.append(
            f"{name:<18} {float(k['rps']):>9,.1f} {float(f['rps']):>9,.1f}"
            f" {_ratio_text(ratio):>6}  {rps_goal:<14}"
        )
        for key in ("p50_ms", "p99_ms"):
            kv, fv = float(k[key]), float(f[key])
            cells.append(f" {kv:>7.2f} {fv:>7.2f} {_ratio_text(_ratio(kv, fv)):>6}")
        p99_goal = ""
        if goal.max_p99 is not None:
            met = float(k["p99_ms"]) <= goal.max_p99
            p99_goal = f"<= {goal.max_p99:g} ms {'ok' if met else 'MISS'}"
        out.append(("".join(cells) + f"  {p99_goal}").rstrip())
        if any(_errors(f)):
            out.append(f"{'':<18} the floor had errors: see its row above and the wrk output")
    return out


def _hook_lines(rows: list[dict[str, str]]) -> list[str]:
    """The hook round trips kassa made during each run (from /metrics, bench/callouts.py)."""
    out = []
    for row in rows:
        if "hook_calls" not in row or row.get("scenario", "").startswith(FLOOR):
            continue
        seconds = float(row["requests"]) / float(row["rps"]) if float(row["rps"]) else 0.0
        per_s = f", {int(row['hook_calls']) / seconds:,.0f}/s" if seconds else ""
        out.append(
            f"  {row['scenario']:<20} {int(row['hook_calls']):>7,} calls{per_s},"
            f" mean {float(row['hook_mean_ms']):.2f} ms, p99 {float(row['hook_p99_ms']):.2f} ms"
        )
    if not out:
        return []
    head = "hook round trips during the run (kassa_outbound_call_duration_seconds{kind=hook}; p99"
    return ["", head + " interpolated within its histogram bucket):", *out]


def main() -> int:
    results_path, rss_path, header_path = (Path(p) for p in sys.argv[1:4])
    database = sys.argv[4] if len(sys.argv) > 4 else "sqlite"
    goals = GOALS[database]
    out: list[str] = [header_path.read_text().rstrip("\n"), ""]
    lines = results_path.read_text().splitlines()
    rows, spreads = _medians([_parse(line) for line in lines if line.startswith("RESULT ")])
    rps_of_floor = {
        row["scenario"][len(FLOOR) :]: float(row["rps"])
        for row in rows
        if row.get("scenario", "").startswith(FLOOR)
    }
    with_db = any("db_cpu" in row for row in rows)
    db_head = f" {'cpu db':>7}" if with_db else ""
    head = (
        f"{'scenario':<22} {'req/s':>9} {'flows/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>8}"
        f" {'sock err':>8} {'cpu srv':>7}{db_head} {'cpu wrk':>7}  {'goal':<46} verdict"
    )
    out += [head, "-" * len(head)]
    missed = 0
    unchecked = 0
    for row in rows:
        name = row.get("scenario", "?")
        is_floor = name.startswith(FLOOR)
        rps, p50, p99 = float(row["rps"]), float(row["p50_ms"]), float(row["p99_ms"])
        non2xx, sock, flow_errors = _errors(row)
        flows = float(row["flows_per_s"]) if "flows_per_s" in row else None
        goal = Goal() if is_floor else goals.get(name, Goal())
        problems = []
        if int(row["requests"]) == 0:
            problems.append("no responses")
        if goal.min_rps is not None and rps < goal.min_rps:
            problems.append("req/s")
        if goal.min_ratio is not None:
            floor_rps = rps_of_floor.get(name)
            if floor_rps is None:
                unchecked += 1
            elif rps < goal.min_ratio * floor_rps:
                problems.append("x floor")
        if goal.min_flows is not None and (flows is None or flows < goal.min_flows):
            problems.append("flows/s")
        if goal.max_p99 is not None and p99 > goal.max_p99:
            problems.append("p99")
        if non2xx or sock or flow_errors:
            problems.append("errors")
        if is_floor:
            verdict = "(floor)" if not problems else "(floor: " + ", ".join(problems) + ")"
        else:
            verdict = "ok" if not problems else "MISS (" + ", ".join(problems) + ")"
            missed += bool(problems)
        flows_text = f"{flows:,.1f}" if flows is not None else "-"
        db_cell = f" {_cores(row, 'db_cpu'):>7}" if with_db else ""
        out.append(
            f"{name:<22} {rps:>9,.1f} {flows_text:>8} {p50:>8.2f} {p99:>8.2f} {non2xx:>8}"
            f" {sock:>8} {_cores(row, 'server_cpu'):>7}{db_cell} {_cores(row, 'client_cpu'):>7}"
            f"  {_goal_text(goal):<46} {verdict}"
        )
        if flow_errors:
            out.append(f"{'':<22} {flow_errors} flows ended in an error (see the wrk output)")
        if name in spreads:
            out.append(f"{'':<22} {spreads[name]}")
    out += _hook_lines(rows)
    out += _floor_table(rows, goals)
    out.append("")
    out.append(f"peak RSS (VmHWM) per kassa server process, goal <= {RSS_GOAL_MB} MB each:")
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
    if unchecked:
        out.append(f"{unchecked} goal(s) relative to the floor not checked: the floor did not run")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
