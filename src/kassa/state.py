"""What the running application holds: settings and the database handle."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from kassa.config import Settings
from kassa.db.engine import Database
from kassa.delivery.outbound import AllowList, Loopback, Outbound


@dataclass
class AppState:
    settings: Settings
    db: Database
    shutting_down: bool = False
    migrated: bool = field(default=False)
    generated_secret: str | None = None
    outbound: Outbound | None = None
    # adapters mounted in this process: their callback URLs are dispatched in-process
    loopback: Loopback | None = None
    # set when a commit wrote events, so that an in-process delivery loop wakes at once
    delivery_wake: asyncio.Event = field(default_factory=asyncio.Event)

    def client(self) -> Outbound:
        """The process's outbound HTTP client, created on first use."""
        if self.outbound is None:
            self.outbound = Outbound(
                AllowList.parse(self.settings.outbound_allow), loopback=self.loopback
            )
        return self.outbound
