"""Scoring's composition root."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI

from binhchon_kit import restore
from binhchon_kit.consumer import PermanentError
from binhchon_kit.contracts.intake import DossierAccepted, DossierWithdrawn, RoundOpened
from binhchon_kit.events import RecordedEvent
from binhchon_kit.loops import every
from binhchon_kit.personal_keys import CopiesOpener, KeyClient, key_client_from_settings
from binhchon_kit.runtime import Runtime, build_runtime, log_signer
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.vietnam_time import now_utc
from binhchon_kit.web import create_app, serve
from scoring.adapters.http import router
from scoring.adapters.rulebooks import Rulebooks
from scoring.adapters.sealing import SealingKeys
from scoring.domain.errors import Refused
from scoring.domain.views import fold_first, fold_scoring
from scoring.service import Scoring
from scoring.views import Views
from scoring.views import setup as setup_views


class ScoringSettings(ServiceSettings):
    service_name: str = "scoring"
    http_port: int = 8002
    # the master keys of sealed sheets (ADR 0036, scoring/adapters/sealing.py): a file of "<kid> <key>" lines, or
    # the lines themselves; neither: one derived from the log signing key
    scoring_sealing_keys_file: str = ""
    scoring_sealing_keys: str = ""
    # Where scoring asks intake for a producer's key, to show a household business's name and registration number
    # that the events carry sealed (ADR 0048), with a token carrying the role "service" (a file, read at each
    # use). No token file: those fields show as erased (a warning).
    intake_url: str = "http://127.0.0.1:8001"
    intake_service_token_file: str = ""
    # how often each replica looks for a decision a crash left part way and finishes it once its lease lapsed
    decision_repair_seconds: float = 10.0


def build(settings: ScoringSettings | None = None, rulebooks: Rulebooks | None = None,
          key_client: KeyClient | None = None, clock: Callable[[], datetime] = now_utc) -> FastAPI:
    """``clock``: the service's now, which stamps its events (tests inject a fixed instant)."""
    settings = settings or ScoringSettings()
    runtime = build_runtime(settings, {"scoring": ("scoring", fold_scoring), "panel": ("panels", fold_first),
                                       "proposal": ("proposals", fold_first)}, clock=clock)
    sealing = SealingKeys.from_settings(settings.scoring_sealing_keys_file, settings.scoring_sealing_keys,
                                        runtime.checkpoints.signer if runtime.checkpoints is not None
                                        else log_signer(settings))
    service = Scoring(runtime, rulebooks or Rulebooks.load(), sealing=sealing, shown=CopiesOpener(
        key_client or key_client_from_settings(settings.intake_url, settings.intake_service_token_file)))

    async def accepted(event: RecordedEvent) -> None:
        try:
            await service.on_dossier_accepted(event)
        except Refused as refused:  # e.g. a product group the rulebook does not have: no retry will help
            raise PermanentError(refused.message) from refused

    runtime.consumers.handle("intake.events", {RoundOpened}, "rounds", service.on_round_opened)
    runtime.consumers.handle("intake.events", {DossierAccepted}, "accepted", accepted)
    runtime.consumers.handle("intake.events", {DossierWithdrawn}, "withdrawn", service.on_dossier_withdrawn)
    # an erasure drops the household's cached key at once in every replica: none shows its name a minute more (ADR 0048)
    service.shown.hear_erasures(runtime)

    async def on_startup(rt: Runtime) -> None:
        await service.setup()
        await setup_views(rt.db)
        rt.spawn("decisions-left", every(settings.decision_repair_seconds, rt.stop, service.finish_left_decisions))

    app = create_app(runtime, title="binhchon scoring", on_startup=on_startup,
                     description="Rulebooks, panels, sealed score sheets, aggregation, council proposal, approval.")
    app.state.scoring = service
    app.state.views = Views(runtime.db)
    app.include_router(router)

    return app


def run() -> None:
    """The console script ``binhchon-scoring``."""
    if restore.asked(sys.argv):  # `binhchon-scoring restore-from-topic`: its lost store from its topic (ADR 0047)
        raise SystemExit(restore.main(sys.argv[2:], build, ScoringSettings))
    serve(build, ScoringSettings())


if __name__ == "__main__":
    run()
