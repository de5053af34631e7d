"""Certification's composition root."""

from __future__ import annotations

import sys
from typing import Any

from fastapi import FastAPI

from binhchon_kit import restore
from binhchon_kit.auth.devtoken import key_dir
from binhchon_kit.contracts.notify import NotificationFailed, NotificationSent
from binhchon_kit.contracts.scoring import PanelFormed, ResultApproved, ScoringCompleted
from binhchon_kit.loops import every
from binhchon_kit.personal_keys import CopiesOpener, key_client_from_settings
from binhchon_kit.runtime import Runtime, build_runtime
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.signing import Signer
from binhchon_kit.web import create_app, serve
from certification.adapters import page_errors
from certification.adapters.ceremonies_http import router as ceremonies_router
from certification.adapters.credentials_http import router as credentials_router
from certification.adapters.http import router
from certification.adapters.idempotency import Answers
from certification.adapters.ledger_http import router as ledger_router
from certification.ceremonies import Ceremonies
from certification.domain.ceremonies import fold_ceremony
from certification.domain.certificates import fold_certificate
from certification.domain.ledger import fold_display, fold_line, fold_schedule
from certification.ledger import Ledger
from certification.ledger_views import LedgerViews
from certification.service import Certification, instant_clock
from certification.views import Views
from certification.views import setup as setup_views


class CertificationSettings(ServiceSettings):
    service_name: str = "certification"
    http_port: int = 8003
    # Ed25519 private key (PEM, PKCS#8) that signs certificates: a file, or the PEM itself in the environment.
    # Neither set: a development key is created once under ~/.cache/binhchon/dev-keys.
    cert_signing_key_file: str = ""
    cert_signing_key: str = ""
    # Where the QR code and links point: the public address of this service.
    public_base_url: str = "http://127.0.0.1:8003"
    cert_font_file: str = ""  # a TTF with Vietnamese diacritics; default DejaVu Sans
    expiry_check_seconds: float = 3600
    # How many of scoring.events' partitions (six) the issuing handler works on at once in this process, each in
    # order (ADR 0058): a council's approval releases its dossiers together, and one at a time they queued.
    issuing_partitions_at_once: int = 6
    # Where certification asks intake for a producer's key, to show a household business's name and registration
    # number that the events carry sealed (ADR 0048): on the PDF, the pages, the registry, the ledger. A token
    # carrying the role "service" (a file, read at each use); none: those fields show as erased (a warning).
    intake_url: str = "http://127.0.0.1:8001"
    intake_service_token_file: str = ""


def build(settings: CertificationSettings | None = None, service_factory: type[Certification] = Certification,
          **service_kwargs: object) -> FastAPI:
    settings = settings or CertificationSettings()
    # the service's clock (a day, and the hour in Vietnam) also stamps its events
    runtime = build_runtime(settings, {"certificate": ("certificates", fold_certificate),
                                       "ceremony": ("ceremonies", fold_ceremony),
                                       # prizes and fees (ADR 0050): awards and fees are the ledger's lines
                                       "award": ("ledger_lines", fold_line), "fee": ("ledger_lines", fold_line),
                                       "schedule": ("prize_schedules", fold_schedule),
                                       "display": ("displays", fold_display)},
                            clock=instant_clock(**service_clocks(service_kwargs)))
    signer = Signer.from_settings(settings.cert_signing_key_file, settings.cert_signing_key, key_dir())
    keys = service_kwargs.pop("key_client", None) or key_client_from_settings(  # tests give the in-process one
        settings.intake_url, settings.intake_service_token_file)
    service_kwargs["shown"] = CopiesOpener(keys)  # type: ignore[arg-type]
    service = service_factory(runtime, signer, settings.public_base_url, **service_kwargs)  # type: ignore[arg-type]
    ceremonies = Ceremonies(runtime, service.now)
    ledger = Ledger(runtime, service.today)
    # each display filed under its certificate, for the registry's pages (ADR 0050, amendment)
    runtime.projections.follow("display", ledger.on_display_projected)
    runtime.consumers.handle("scoring.events", {ResultApproved}, "issuing", service.on_result_approved,
                             concerns=service.recognised, partitions_at_once=settings.issuing_partitions_at_once)
    runtime.consumers.handle("notify.events", {NotificationSent, NotificationFailed}, "ceremony-deliveries",
                             ceremonies.on_notification, concerns=ceremonies.concerns)
    runtime.consumers.handle("scoring.events", {ResultApproved, PanelFormed, ScoringCompleted}, "ledger",
                             ledger.on_scoring_event, concerns=ledger.concerns)
    # an erasure drops the household's cached key at once in every replica: none shows its name a minute more (ADR 0048)
    service.shown.hear_erasures(runtime)

    async def on_startup(rt: Runtime) -> None:
        await setup_views(rt.db)
        await service.setup()
        await ceremonies.setup()
        await ledger.setup()
        rt.spawn("ledger-settling", ledger.settle_all())
        rt.spawn("expiry", every(settings.expiry_check_seconds, rt.stop, service.send_expiry_notices))

    app = create_app(runtime, title="binhchon certification", on_startup=on_startup,
                     description="Signed certificates, PDF with QR, public verification and registry, revocation, "
                                 "expiry notices, ceremonies, prizes and fees, the exhibition.")
    app.state.certification = service
    app.state.ceremonies = ceremonies
    app.state.ledger = ledger
    app.state.ledger_views = LedgerViews(runtime.db)
    app.state.views = Views(runtime.db, service.today, app.state.ledger_views, service.shown)
    # a command's answer, kept for its Idempotency-Key as recorded and shown as the views show it (ADR 0048)
    app.state.answers = Answers(runtime.db, service.now, service.shown)
    try:
        from certification.adapters.pdf import find_font_files

        app.state.fonts = find_font_files(settings.cert_font_file or None)
    except ImportError:
        app.state.fonts = (settings.cert_font_file, settings.cert_font_file)
    page_errors.install(app)  # the public pages' refusals as pages in Vietnamese
    app.include_router(credentials_router)  # first: its `/certificates/{number}.vc.json` before `{number}`
    app.include_router(router)
    app.include_router(ceremonies_router)
    app.include_router(ledger_router)

    return app


def service_clocks(service_kwargs: dict[str, object]) -> dict[str, Any]:
    """The clocks among the service's arguments (``clock``: today; ``now``: the instant), as a test injects them."""
    return {name: service_kwargs[name] for name in ("clock", "now") if name in service_kwargs}


def run() -> None:
    """The console script ``binhchon-certification``."""
    if restore.asked(sys.argv):  # `binhchon-certification restore-from-topic`: its lost store from its topic (ADR 0047)
        raise SystemExit(restore.main(sys.argv[2:], build, CertificationSettings))
    serve(build, CertificationSettings())


if __name__ == "__main__":
    run()

