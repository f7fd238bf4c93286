"""The order document is typed (``kassa.orders.document``): mypy refuses a misspelt field.

Each test writes a tiny module that uses the order types the way the rules and mutations do,
and runs mypy on it with the project's configuration (strict, with its plugin), without a cache.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

GOOD = """
from kassa.orders.model import Apply, Context, Meta, Order


def currency(order: Order) -> str | None:
    return order.get("currency")


def put_reference(reference: str) -> Apply[None]:
    def apply(order: Order, meta: Meta, ctx: Context) -> None:
        status = order["state"]["currentStatus"]
        order["reference"] = reference
        order["state"]["transitions"].append({"status": status, "timeStamp": ctx.now})
        meta["eventSeq"] = meta.get("eventSeq", 0) + 1

    return apply
"""

# (correct text in GOOD, the same text misspelt, what mypy says about it); ``.get`` is checked
# by the project's plugin (tools/kassa_mypy.py), the rest by mypy itself
TYPOS = [
    ('order.get("currency")', 'order.get("curency")', 'TypedDict "Order" has no key "curency"'),
    (
        '["currentStatus"]',
        '["currentstatus"]',
        'TypedDict "OrderState" has no key "currentstatus"',
    ),
    ('order["reference"] =', 'order["refrence"] =', 'TypedDict "Order" has no key "refrence"'),
    (
        '"timeStamp": ctx.now',
        '"timestamp": ctx.now',
        'Extra key "timestamp" for TypedDict "Transition"',
    ),
    ('meta["eventSeq"] =', 'meta["eventseq"] =', 'TypedDict "Meta" has no key "eventseq"'),
]


def _mypy(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    module = tmp_path / "uses_order.py"
    module.write_text(textwrap.dedent(source))
    command = [
        sys.executable,
        "-m",
        "mypy",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--no-incremental",
        "--cache-dir",
        str(tmp_path / "mypy_cache"),
        str(module),
    ]
    # cwd: the configuration's mypy_path ("src") is relative to it
    return subprocess.run(
        command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def test_correct_field_names_pass(tmp_path: Path) -> None:
    result = _mypy(tmp_path, GOOD)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found in 1 source file" in result.stdout


def test_misspelt_field_names_fail(tmp_path: Path) -> None:
    source = GOOD
    for right, wrong, _ in TYPOS:
        assert source.count(right) == 1
        source = source.replace(right, wrong)
    result = _mypy(tmp_path, source)
    assert result.returncode == 1, result.stdout + result.stderr
    lines = textwrap.dedent(source).splitlines()
    for _, wrong, message in TYPOS:
        number = next(n for n, line in enumerate(lines, start=1) if wrong in line)
        assert f"uses_order.py:{number}: error: {message}" in result.stdout, result.stdout
