"""The auditor's command line against a real store: an intact log verifies, a tampered one is named."""

from __future__ import annotations

import pytest

from binhchon_kit.contracts.intake import DossierRejected
from binhchon_kit.events import Actor, Cause, NewEvent
from binhchon_kit.eventstore import EventStore
from binhchon_kit.testing.stored_events import alter_data
from binhchon_tools import audit

pytestmark = pytest.mark.integration


async def test_verify_names_the_tampered_event(mongo, infra, unique, capsys):
    db = f"audit_{unique}"
    store = EventStore(mongo[db], source="/binhchon/test")
    await store.setup()
    for n in range(3):
        await store.append("dossier-t", n, NewEvent(DossierRejected(reason=f"lý do {n}")),
                           subject="dossier-t", actor=Actor("sec", ("secretariat",)), cause=Cause("c", "c"))
    args = ["--mongodb-url", infra.mongodb, "verify", "--database", db]
    assert await audit.run(audit.build_parser().parse_args(args)) == 0

    await alter_data(mongo[db]["events"], "dossier-t/0000000002", "reason", "sửa lén")
    assert await audit.run(audit.build_parser().parse_args(args)) == 1
    assert "TAMPERED dossier-t v2: content does not match its hash" in capsys.readouterr().out
