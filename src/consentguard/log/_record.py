"""The record of one consent choice, as every store keeps it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

Action = Literal["accept_all", "reject_all", "custom", "withdraw"]

#: How long a store keeps records unless told: as long as the consent is relied on, plus
#: the time to answer a complaint.
DEFAULT_RETENTION = timedelta(days=5 * 365)

#: Every action, in the order reports show them.
ACTIONS: tuple[Action, ...] = ("accept_all", "reject_all", "custom", "withdraw")


@dataclass(frozen=True)
class ConsentRecord:
    """One recorded choice: what a site keeps to prove consent (GDPR Art. 7(1)).

    :param consent_id: the id carried in the visitor's consent cookie.
    :param timestamp: when the choice was made (UTC).
    :param action: ``"accept_all"``, ``"reject_all"``, ``"custom"`` or ``"withdraw"``.
    :param accepted: optional categories accepted.
    :param refused: optional categories refused.
    :param registry_version: the registry ``version`` the visitor saw.
    :param revisions: category → revision of the declarations the visitor accepted.
    :param gpc: whether the request carried ``Sec-GPC: 1``.
    """

    consent_id: str
    timestamp: datetime
    action: Action
    accepted: tuple[str, ...]
    refused: tuple[str, ...]
    registry_version: str | None
    revisions: Mapping[str, str] = field(default_factory=dict, hash=False)
    gpc: bool = False

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamps in ISO 8601)."""
        return {
            "consent_id": self.consent_id,
            "timestamp": self.timestamp.isoformat(),
            "action": self.action,
            "accepted": list(self.accepted),
            "refused": list(self.refused),
            "registry_version": self.registry_version,
            "revisions": dict(self.revisions),
            "gpc": self.gpc,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ConsentRecord:
        """The inverse of :meth:`to_json`."""
        return cls(
            consent_id=data["consent_id"],
            timestamp=datetime.fromisoformat(data["timestamp"]),
            action=data["action"],
            accepted=tuple(data["accepted"]),
            refused=tuple(data["refused"]),
            registry_version=data.get("registry_version"),
            revisions=dict(data.get("revisions") or {}),
            gpc=bool(data.get("gpc")),
        )


def utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive datetime is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)
