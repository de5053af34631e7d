"""An event's CloudEvents ``time`` is the clock its service was given, not the machine's (issue 15): intake and
notify share a clock set days ahead of the machine (a test moving time past a deadline does so); the receipt's
``dossier.received`` goes on the real topic stamped with that clock's time, and notify, reading the same clock,
mails the producer rather than taking the event for history older than its 72 hours."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from binhchon_kit.envelope import format_time
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.documents import upload_documents
from binhchon_kit.testing.fixtures import TopicReader, eventually
from binhchon_kit.testing.personal import intake_keys
from binhchon_kit.testing.samples import dossier_body, round_body
from intake.main import IntakeSettings
from intake.main import build as build_intake
from notify.main import build

from .support import Clock
from .test_notify_delivery import _count, notify_settings

pytestmark = pytest.mark.integration


async def test_an_event_recorded_days_ahead_carries_that_time_and_is_mailed(infra, unique, topic_prefix, dev_keys,
                                                                          auth, token, mailbox):
    key = str(dev_keys[1])
    clock = Clock()
    clock.move_to(clock.now + timedelta(days=5, hours=3))  # well past notify's 72 hours of "history"
    intake_app = build_intake(IntakeSettings(mongodb_url=infra.mongodb, mongodb_database=f"intake_{unique}",
                                             kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=topic_prefix,
                                             auth_public_keys_file=key), clock=clock)
    sec, applicant = auth("sec", "secretariat"), auth("htx", "applicant")
    keys = intake_keys(intake_app, token("notify", "service"))
    async with running(intake_app, "http://intake") as intake, \
            running(build(notify_settings(infra, unique, topic_prefix, key, mailbox), clock=clock, key_client=keys),
                    "http://notify"), \
            TopicReader(infra.kafka, f"{topic_prefix}intake.events") as topic:
        rnd = (await intake.post("/rounds", json=round_body(f"T{unique}", today=clock.today()), headers=sec)).json()
        await upload_documents(intake, applicant)
        r = await intake.post(f"/rounds/{rnd['round_id']}/dossiers", json=dossier_body(), headers=applicant)
        assert r.status_code == 201, r.text
        dossier = r.json()["dossier_id"]

        events = await topic.wait_for(lambda es: any(e.type == "dossier.received" for e in es),
                                      what="dossier.received on the topic")
        [received] = [e for e in events if e.type == "dossier.received"]
        assert received.subject == dossier
        assert received.time == format_time(clock.now)  # the service's clock, to the millisecond
        history = (await intake.get(f"/dossiers/{dossier}", headers=applicant)).json()["history"]
        assert [datetime.fromisoformat(h["time"]) for h in history] == [clock.now]

        await eventually(lambda: _count(mailbox, 1), what="the receipt mailed to the producer")
    [(to, subject, _)] = mailbox.texts()
    assert to == "htx.donghung@example.vn" and r.json()["receipt_number"] in subject
