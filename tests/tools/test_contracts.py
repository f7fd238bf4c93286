"""The architecture contracts of ``make check`` (pyproject ``[tool.importlinter]``) hold, and
fail when a forbidden import is added: run ``lint-imports`` on a copy of the source."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(source: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": f"{source}{os.pathsep}{ROOT / 'tools'}"}
    return subprocess.run(
        [str(LINT), "--no-logo", "--no-cache"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def source(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "src" / "kassa", tmp_path / "kassa")
    return tmp_path


def _add_line(path: Path, after: str, line: str) -> None:
    text = path.read_text()
    assert after in text
    path.write_text(text.replace(after, f"{after}\n{line}", 1))


def test_contracts_hold(source: Path) -> None:
    result = _lint(source)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 6 kept, 0 broken." in result.stdout


def test_io_in_a_rule_breaks_the_pure_core(source: Path) -> None:
    _add_line(
        source / "kassa/orders/rules.py", "from __future__ import annotations", "import sqlite3"
    )
    result = _lint(source)
    assert result.returncode == 1
    assert "kassa.orders.rules -> sqlite3" in result.stdout
    assert "Pure core: no I/O BROKEN" in result.stdout


def test_io_through_another_module_breaks_the_pure_core(source: Path) -> None:
    # a pure module reaching the database through a kassa module is caught too
    _add_line(
        source / "kassa/money.py", "from __future__ import annotations", "import kassa.db.engine"
    )
    result = _lint(source)
    assert result.returncode == 1
    assert "kassa.money -> kassa.db.engine" in result.stdout


def test_a_route_importing_a_repository_is_refused(source: Path) -> None:
    _add_line(
        source / "kassa/shippings/routes.py",
        "from __future__ import annotations",
        "from kassa.orders import repository",
    )
    result = _lint(source)
    assert result.returncode == 1
    assert "kassa.shippings.routes is not allowed to import kassa.orders.repository" in (
        result.stdout
    )


def test_an_import_cycle_is_refused(source: Path) -> None:
    # rules are imported by mutations; a rule importing a mutation closes a circle
    _add_line(
        source / "kassa/orders/rules.py",
        "from __future__ import annotations",
        "import kassa.orders.mutations",
    )
    result = _lint(source)
    assert result.returncode == 1
    assert "Modules importing each other in a circle:" in result.stdout
    assert "- kassa.orders.mutations" in result.stdout
    assert "- kassa.orders.rules" in result.stdout


def test_writing_events_outside_the_unit_of_work_is_refused(source: Path) -> None:
    _add_line(
        source / "kassa/payments/service.py",
        "from __future__ import annotations",
        "from kassa.events import outbox",
    )
    result = _lint(source)
    assert result.returncode == 1
    assert "Only the unit of work writes events BROKEN" in result.stdout
    assert "kassa.payments.service" in result.stdout


def test_an_adapter_reaching_order_code_is_refused(source: Path) -> None:
    _add_line(
        source / "kassa/adapters/nonpsp.py",
        "from __future__ import annotations",
        "from kassa.orders import repository",
    )
    result = _lint(source)
    assert result.returncode == 1
    assert "kassa.adapters is not allowed to import kassa.orders" in result.stdout
    assert "kassa.adapters.nonpsp -> kassa.orders.repository" in result.stdout
