"""Notify's composition root."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

from fastapi import FastAPI

from binhchon_kit import restore
from binhchon_kit.contracts.certification import (
    CeremonyScheduled,
    CertificateExpired,
    CertificateExpiring,
    CertificateIssued,
    CertificateRevoked,
    CertificateSuperseded,
)
from binhchon_kit.contracts.intake import (
    DossierAccepted,
    DossierReceived,
    DossierRejected,
    DossierRescheduled,
    DossierSupplemented,
    DossierSupplementRequested,
    DossierWithdrawn,
    PersonalDataErased,
    RoundOpened,
)
from binhchon_kit.contracts.ledger import AwardPaid, FeePaid
from binhchon_kit.contracts.registry import EventData
from binhchon_kit.contracts.samples import SamplesReturnDue
from binhchon_kit.contracts.scoring import (
    JudgeRecused,
    MemberSubstituted,
    PanelFormed,
    RescoreRequested,
    ResultApproved,
    ResultNotRecognised,
    ResultProposed,
    ScoreAmended,
    ScoreSubmitted,
    ScoringCompleted,
    ScoringOpened,
)
from binhchon_kit.personal_keys import KeyClient, token_from_file
from binhchon_kit.runtime import Runtime, build_runtime
from binhchon_kit.settings import ServiceSettings
from binhchon_kit.vietnam_time import now_utc
from binhchon_kit.web import create_app, serve
from notify.adapters.channels import Email, Webhook
from notify.adapters.http import router
from notify.adapters.targets import Resolver, Targets, networks
from notify.adapters.templates import Templates
from notify.service import Notify, only_marks_a_judge
from notify.views import Views
from notify.views import setup as setup_views
from notify.waiting import setup as setup_waiting

CONSUMED: dict[str, set[type[EventData]]] = {
    "intake.events": {DossierReceived, DossierSupplementRequested, DossierAccepted, DossierRejected,
                      DossierRescheduled, DossierWithdrawn, RoundOpened, DossierSupplemented, PersonalDataErased,
                      SamplesReturnDue},
    "scoring.events": {PanelFormed, ScoringCompleted, ResultProposed, ResultApproved, ResultNotRecognised,
                       ScoringOpened, ScoreSubmitted, JudgeRecused, ScoreAmended, RescoreRequested,
                       MemberSubstituted},
    "certification.events": {CertificateIssued, CertificateExpiring, CertificateExpired, CertificateRevoked,
                             CertificateSuperseded, CeremonyScheduled, AwardPaid, FeePaid},
}


class NotifySettings(ServiceSettings):
    service_name: str = "notify"
    http_port: int = 8004
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    mail_from: str = "binhchon <no-reply@binhchon.vn>"
    notify_templates_dir: str = ""  # a copy of the templates to use instead of the bundled ones
    notify_max_attempts: int = 5
    notify_backoff_seconds: float = 2.0
    notify_poll_seconds: float = 5.0
    # Events older than this when first read (a new deployment replaying history) tell nobody anything.
    notify_max_event_age_hours: float = 72
    # An event whose facts (contact, panel, round, approvers) have not arrived waits this long, then is dead-lettered.
    notify_fact_wait_hours: float = 24
    # A claimed delivery attempt is the claimer's this long (a send is cut at half of it); then another may take it.
    notify_claim_lease_seconds: float = 120
    # One SMTP connection carries the next mails (ADR 0054): closed after this long unused, or after this many mails.
    notify_smtp_idle_seconds: float = 10
    notify_smtp_mails_per_connection: int = 100
    # Webhooks (ADR 0028): https only unless this allows http (local tests); URLs reaching a non-public address are
    # refused unless one of these networks (comma-separated, e.g. "127.0.0.1/32,::1/128") contains it.
    notify_webhook_allow_http: bool = False
    notify_webhook_allowed_networks: str = ""
    notify_webhook_connect_seconds: float = 5
    notify_webhook_read_seconds: float = 10
    certification_public_url: str = "http://127.0.0.1:8003"
    intake_public_url: str = "http://127.0.0.1:8001"
    # Where notify asks intake for a producer's key to open the e-mail address sealed in dossier.received (ADR
    # 0035), with a token carrying the role "service" (a file, read at each use). No token file: sealed addresses
    # stay sealed and those producers are not mailed (a warning). Empty URL: intake_public_url.
    intake_url: str = ""
    intake_service_token_file: str = ""


def build(settings: NotifySettings | None = None, resolver: Resolver | None = None,
          **service_kwargs: object) -> FastAPI:
    """``resolver``: the names' resolver of webhook URLs (tests give a fake one; the system's otherwise)."""
    settings = settings or NotifySettings()
    clock = service_kwargs.get("clock", now_utc)  # the service's now, which also stamps its events
    runtime = build_runtime(settings, {}, clock=clock)  # type: ignore[arg-type]
    if settings.intake_service_token_file and "key_client" not in service_kwargs:
        service_kwargs["key_client"] = KeyClient(settings.intake_url or settings.intake_public_url,
                                                 token_from_file(settings.intake_service_token_file))
    targets = Targets(allow_http=settings.notify_webhook_allow_http,
                      allowed=networks(settings.notify_webhook_allowed_networks), resolver=resolver)
    webhook = Webhook(targets, connect_seconds=settings.notify_webhook_connect_seconds,
                      read_seconds=settings.notify_webhook_read_seconds,
                      total_seconds=settings.notify_claim_lease_seconds / 2)
    service = Notify(
        runtime, Templates(Path(settings.notify_templates_dir) if settings.notify_templates_dir else None),
        Email(settings.smtp_host, settings.smtp_port, settings.mail_from, settings.smtp_username,
              settings.smtp_password, settings.smtp_starttls, idle_seconds=settings.notify_smtp_idle_seconds,
              per_connection=settings.notify_smtp_mails_per_connection), webhook,
        certification_url=settings.certification_public_url, intake_url=settings.intake_public_url,
        max_attempts=settings.notify_max_attempts, backoff_seconds=settings.notify_backoff_seconds,
        max_event_age=timedelta(hours=settings.notify_max_event_age_hours),
        fact_wait=timedelta(hours=settings.notify_fact_wait_hours),
        lease=timedelta(seconds=settings.notify_claim_lease_seconds), **service_kwargs)  # type: ignore[arg-type]
    for topic, types in CONSUMED.items():
        runtime.consumers.handle(topic, types, topic.split(".")[0], service.on_event, idempotent=only_marks_a_judge)
    # the group's handler blanks the mails once; every replica drops the erased keys it cached (ADR 0048)
    service.shown.hear_erasures(runtime, "erased_keys")

    async def on_startup(rt: Runtime) -> None:
        await setup_views(rt.db)
        await setup_waiting(rt.db)
        if isinstance(key_client := service_kwargs.get("key_client"), KeyClient):
            key_client.client()  # built now, not by the first mail that needs a producer's key
        rt.spawn("delivery", service.worker(rt.stop, settings.notify_poll_seconds))

    app = create_app(runtime, title="binhchon notify", on_startup=on_startup,
                     description="Every party told, in Vietnamese, by email and webhook, with reminders, exactly once.")
    app.state.notify = service
    app.state.views = Views(runtime.db)
    app.include_router(router)
    return app


def run() -> None:
    """The console script ``binhchon-notify``."""
    if restore.asked(sys.argv):  # `binhchon-notify restore-from-topic`: its lost store from its topic (ADR 0047)
        raise SystemExit(restore.main(sys.argv[2:], build, NotifySettings))
    serve(build, NotifySettings())


if __name__ == "__main__":
    run()
