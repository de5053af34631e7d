"""A household business's name and number leave through no webhook, not even sealed (ADR 0048, second amendment
of 2026-11-29): on the real broker and store a household files in intake; an agency's webhook receives the dossier's
receipt and its acceptance, each signed as Standard Webhooks says, with the household's name withheld where the
events carry its sealed copy, and no ciphertext anywhere; the rest of each event is there, and verifies."""

from __future__ import annotations

from typing import Any

import pytest
import standardwebhooks

from binhchon_kit.contracts.agencies import WITHHELD
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.personal import household_accepted, intake_keys, master_key_in
from binhchon_kit.testing.samples import round_body
from intake.main import IntakeSettings
from intake.main import build as build_intake
from notify.main import build

from .support import Clock
from .test_notify_delivery import Receiver, notify_settings

pytestmark = pytest.mark.integration
SEALED_KEYS = {"enc", "kid", "iv", "ct", "src"}  # what a sealed value or its copy is made of


def keys_in(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for item in value.values() for k in keys_in(item)}
    if isinstance(value, list):
        return {k for item in value for k in keys_in(item)}
    return set()


@pytest.mark.timeout(240)
async def test_a_households_webhooks_carry_no_sealed_copy_and_still_verify(
        infra, unique, topic_prefix, dev_keys, auth, token, mailbox, tmp_path):
    key = str(dev_keys[1])
    name, number = f"Hộ kinh doanh Lương Thị Mai {unique}", f"HKD-{unique}".upper()
    clock = Clock()
    sec, admin = auth("sec", "secretariat"), auth("admin", "admin")
    intake_app = build_intake(IntakeSettings(
        mongodb_url=infra.mongodb, mongodb_database=f"intake_{unique}", kafka_bootstrap_servers=infra.kafka,
        kafka_topic_prefix=topic_prefix, auth_public_keys_file=key,
        personal_data_master_key_file=str(master_key_in(tmp_path))), clock=clock)
    receiver = Receiver(failures=0)
    async with receiver.serving(), running(intake_app, "http://intake") as intake, running(build(notify_settings(
            infra, unique, topic_prefix, key, mailbox, notify_webhook_allow_http=True,
            notify_webhook_allowed_networks="127.0.0.1/32"), clock=clock,
            key_client=intake_keys(intake_app, token("notify", "service"))), "http://notify") as notify:
        hook = (await notify.post("/subscriptions", headers=admin, json={
            "url": f"http://127.0.0.1:{receiver.port}/hooks/so-nn", "event_types": [
                "dossier.received", "dossier.accepted"]})).json()
        rnd = (await intake.post("/rounds", json=round_body(f"WH{unique}", today=clock.today()), headers=sec)).json()
        dossier_id = await household_accepted(intake, rnd["round_id"], name, number, auth("mai", "applicant"), sec)

        async def both_received() -> list[tuple[dict[str, str], bytes]] | None:
            return receiver.requests if len(receiver.requests) >= 2 else None

        deliveries = await eventually(both_received, timeout=60, what="the two webhooks")
    by_type: dict[str, dict[str, Any]] = {}
    for headers, raw in deliveries:
        # what an agency runs: Standard Webhooks' library, with its subscription's secret
        event = standardwebhooks.Webhook(hook["secret"]).verify(raw, headers)
        assert not keys_in(event["data"]) & SEALED_KEYS, f"a sealed value in the webhook: {event['data']}"
        assert name not in raw.decode() and number not in raw.decode()
        by_type[event["type"]] = event["data"]
    received, accepted = by_type["dossier.received"], by_type["dossier.accepted"]
    assert received["dossier_id"] == dossier_id and received["product"]["name"] == "Chè Tân Cương"
    assert received["producer"]["kind"] == "household" and received["producer"]["name"] == WITHHELD
    assert received["producer"]["address"]["province_code"] == "24"
    assert accepted["producer_name"] == WITHHELD and accepted["product_name"] == "Chè Tân Cương"
    assert accepted["round_id"] == rnd["round_id"] and accepted["sample_code"]
