"""Events as another service would put them on the wire, for consumer tests on the real broker."""

from __future__ import annotations

from datetime import UTC, date, datetime

from binhchon_kit.contracts.intake import RoundOpened
from binhchon_kit.envelope import CloudEvent
from binhchon_kit.events import Actor, RecordedEvent
from binhchon_kit.testing.samples import round_body
from binhchon_kit.trust import dev_log_signer, signed

ROUND = RoundOpened.model_validate({
    **round_body("LN-2026", today=date(2026, 11, 23), title="Vòng OCOP Lục Nam"), "round_id": "round-r1",
    "approving_authority": {"id": "province:24", "name": "UBND tỉnh Bắc Giang"}}).model_dump(mode="json")


def round_opened(n: int, *, subject: str | None = None, version: int = 1) -> bytes:
    """The CloudEvent bytes of intake's ``round.opened`` ``e-<n>``, hashed and signed with intake's development
    log key as its relay would (a consumer trusts it, ADR 0026); by default the first event of round ``r<n>``,
    else the ``version``-th of ``subject``'s stream."""
    subject = subject or f"r{n}"
    recorded = RecordedEvent(
        id=f"e-{n}", stream=f"round-{subject}", version=version, type="round.opened", schema_version=1,
        subject=subject,
        time=datetime(2026, 11, 22, 23, 26, tzinfo=UTC), data=ROUND, actor=Actor("officer-1", ("officer",)),
        correlation_id="c-1", causation_id="http:c-1", source="/binhchon/intake", prev_hash="0" * 64, hash="",
    ).sealed()
    return CloudEvent(**signed(recorded.cloudevent_json(), dev_log_signer("intake"))).to_bytes()
