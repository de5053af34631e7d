"""Intake's composition root: settings → runtime → service → HTTP routes and Kafka handlers."""

from __future__ import annotations

import sys

from fastapi import FastAPI

from binhchon_kit import restore, workdays
from binhchon_kit.contracts.scoring import ResultApproved
from binhchon_kit.personal_keys import COLLECTION, SubjectKeys, master_key_from_settings
from binhchon_kit.runtime import Runtime, build_runtime, log_signer
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.vietnam_time import day_in_vietnam, now_utc
from binhchon_kit.web import create_app, serve
from intake.adapters.document_routes import router as document_routes
from intake.adapters.http import router
from intake.adapters.http_samples import router as samples_router
from intake.adapters.receipt_codes import ReceiptCodes
from intake.adapters.uploads import ENVELOPE_BYTES
from intake.domain.bindings import fold_binding
from intake.domain.dossiers import fold_dossier
from intake.domain.rounds import fold_round
from intake.domain.samples import fold_samples
from intake.sample_custody import SampleCustody
from intake.service import DOCUMENT_MAX_BYTES, Clock, Intake
from intake.views import Views
from intake.views import setup as setup_views


class IntakeSettings(ServiceSettings):
    service_name: str = "intake"
    http_port: int = 8001
    # the secret behind the receipts' check codes (intake/adapters/receipt_codes.py); empty: derived from the log
    # signing key
    receipt_check_key_file: str = ""
    # the master key wrapping each data subject's key (ADR 0035): 32 bytes, raw or base64. Empty: a development
    # key under ~/.cache/binhchon/dev-keys (`make up` makes one under .run/local/credentials). Losing it erases
    # everyone; back it up apart from the database.
    personal_data_master_key_file: str = ""
    # the largest document an applicant may upload (ADR 0045); a larger body is refused (413) as it arrives
    document_max_bytes: int = DOCUMENT_MAX_BYTES


def build(settings: IntakeSettings | None = None, clock: Clock = now_utc) -> FastAPI:
    """``clock``: the service's now (tests inject a fixed instant; "today" is its date in Vietnam)."""
    settings = settings or IntakeSettings()
    runtime = build_runtime(settings, {"round": ("rounds", fold_round), "dossier": ("dossiers", fold_dossier),
                                       "binding": ("bindings", fold_binding), "samples": ("samples", fold_samples)},
                            clock=clock)
    keys = SubjectKeys(runtime.db[COLLECTION], master_key_from_settings(settings.personal_data_master_key_file))
    service = Intake(runtime, clock, keys, settings.document_max_bytes)
    custody = SampleCustody(service)  # sample custody and selection codes (ADR 0046)
    runtime.consumers.handle("scoring.events", {ResultApproved}, "escalation", service.on_result_approved,
                             concerns=service.goes_up)

    async def on_startup(rt: Runtime) -> None:
        await service.setup()
        workdays.prepare(day_in_vietnam(clock()))  # deadlines in working days: not built in a request
        await setup_views(rt.db)
        await custody.setup()

    app = create_app(runtime, title="binhchon intake", on_startup=on_startup,
                     description="Selection rounds, dossiers, receipts, their documents, the completeness check and "
                                 "escalation.", uploads={"/documents": settings.document_max_bytes + ENVELOPE_BYTES})
    app.state.intake = service
    signer = runtime.checkpoints.signer if runtime.checkpoints is not None else log_signer(settings)
    app.state.receipt_codes = ReceiptCodes.from_settings(settings.receipt_check_key_file, signer)
    app.state.views = Views(runtime.db, keys.many)
    app.state.samples = custody
    # a store restored from its topic (ADR 0047) gets the selection-code claims back from its acceptances
    app.state.after_restore = {"selection_codes": custody.rebuild_claims}
    app.include_router(router)
    app.include_router(document_routes)
    app.include_router(samples_router)

    return app


def run() -> None:
    """The console script ``binhchon-intake``."""
    if restore.asked(sys.argv):  # `binhchon-intake restore-from-topic`: its lost store from its topic (ADR 0047)
        raise SystemExit(restore.main(sys.argv[2:], build, IntakeSettings))
    serve(build, IntakeSettings())


if __name__ == "__main__":
    run()
