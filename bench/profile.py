"""Where the time of one request goes: a py-spy profile of a loaded server, by category.

Capture (while a load generator such as wrk drives one scenario against ``kassa serve``)::

    .venv/bin/py-spy record --pid PID --duration 8 --rate 250 --format raw --output out.raw

then ``.venv/bin/python bench/profile.py out.raw [--requests N]``. Each sample is put in the
category of the innermost frame that names one (a sample in asyncpg called from kassa is
"database driver"; orjson has no Python frame, so its time counts for the kassa code that called
it). Samples of idle threads waiting for work (the SQLite writer and scan threads, the event loop
polling) are shown apart. With ``--requests`` (requests served during the capture) the shares are
also given in microseconds per request.
"""

from __future__ import annotations

import argparse
import collections
import re
import sys

IDLE = "idle (waiting for work)"
# a sample whose innermost frame is one of these is a thread waiting for work: the SQLite writer
# and scan threads blocked on their queues, the event loop in its poll
IDLE_LEAF = re.compile(
    r"_SqliteWriter\._run|concurrent/futures/thread\.py|queue\.py|threading\.py|selectors\.py"
)
# (category, pattern on one frame "function (path:line)"), innermost match wins
CATEGORIES = [
    ("database driver", re.compile(r"asyncpg/|sqlalchemy/|sqlite3|greenlet|kassa/db/")),
    ("metrics and access log", re.compile(r"prometheus_client/|kassa/middleware\.py|logging/")),
    ("validation (pydantic)", re.compile(r"pydantic")),
    ("kassa logic", re.compile(r"kassa/")),
    ("framework (routing, middleware)", re.compile(r"fastapi/|starlette/")),
    ("HTTP server and event loop", re.compile(r"uvicorn/|h11|httptools|asyncio/")),
]


def categorise(frames: list[str]) -> str:
    if IDLE_LEAF.search(frames[-1]):
        return IDLE
    for frame in reversed(frames):
        for name, pattern in CATEGORIES:
            if pattern.search(frame):
                return name
    return "other"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("raw", help="py-spy --format raw output")
    parser.add_argument("--requests", type=int, help="requests served during the capture")
    parser.add_argument("--seconds", type=float, default=8.0, help="capture duration")
    parser.add_argument("--rate", type=float, default=250.0, help="py-spy samples per second")
    args = parser.parse_args()
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    with open(args.raw, encoding="utf-8") as handle:
        for line in handle:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            if not stack:
                continue
            samples = int(n)
            total += samples
            counts[categorise(stack.split(";"))] += samples
    if not total:
        print("no samples", file=sys.stderr)
        return 1
    busy = total - counts[IDLE]
    unit = "  µs/request" if args.requests else ""
    print(f"{'category':34} {'share of busy samples':>22}{unit}")
    for name, samples in counts.most_common():
        if name == IDLE:
            continue
        line = f"{name:34} {samples / busy * 100:21.1f}%"
        if args.requests:
            line += f"  {samples / args.rate / args.requests * 1e6:10.0f}"
        print(line)
    line = f"{'busy in all':34} {100:21.1f}%"
    if args.requests:
        line += f"  {busy / args.rate / args.requests * 1e6:10.0f}"
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
