"""What the running application holds: settings and the database handle."""

from __future__ import annotations

from dataclasses import dataclass, field

from kassa.config import Settings
from kassa.db.engine import Database


@dataclass
class AppState:
    settings: Settings
    db: Database
    shutting_down: bool = False
    migrated: bool = field(default=False)
