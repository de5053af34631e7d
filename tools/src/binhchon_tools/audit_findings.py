"""What an audit finds: discrepancies (each naming its event ids) and notes (what was not checked, and why)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Discrepancy:
    check: str  # chain, hash, duplicate, unreadable, type, scoring, result, certificate, escalation, checkpoint...
    subject: str  # the stream, dossier or certificate concerned
    message: str
    event_ids: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "event_ids": list(self.event_ids)}


@dataclass
class Findings:
    discrepancies: list[Discrepancy] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)

    def add(self, check: str, subject: str, message: str, *event_ids: str) -> None:
        self.discrepancies.append(Discrepancy(check, subject, message, tuple(i for i in event_ids if i)))

    @property
    def ok(self) -> bool:
        return not self.discrepancies
