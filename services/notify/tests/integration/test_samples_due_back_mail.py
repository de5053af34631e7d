"""The producer told, in Vietnamese, when their samples are due back (issue 16, ADR 0046): the secretariat's return
notice in intake records ``samples.return_due`` for each dossier whose samples are still held; notify mails it
through its usual path (the sealed address opened with intake's key), read here as a mail client decodes it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from binhchon_kit.testing.apps import running
from binhchon_kit.testing.documents import upload_documents
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.personal import intake_keys
from binhchon_kit.testing.samples import dossier_body, round_body
from intake.main import IntakeSettings
from intake.main import build as build_intake
from notify.main import build

from .support import Clock
from .test_notify_delivery import _count, notify_settings

pytestmark = pytest.mark.integration


async def test_a_producer_is_told_where_and_when_to_collect_their_samples(infra, unique, topic_prefix, dev_keys,
                                                                         auth, token, mailbox):
    key = str(dev_keys[1])
    clock = Clock()
    today = clock.today()
    intake_app = build_intake(IntakeSettings(mongodb_url=infra.mongodb, mongodb_database=f"intake_{unique}",
                                             kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=topic_prefix,
                                             auth_public_keys_file=key), clock=clock)
    sec = auth("sct-kien-giang", "secretariat")
    keys = intake_keys(intake_app, token("notify", "service"))
    async with running(intake_app, "http://intake") as intake, \
            running(build(notify_settings(infra, unique, topic_prefix, key, mailbox), clock=clock, key_client=keys),
                    "http://notify"):
        rnd = (await intake.post("/rounds", json=round_body(f"RD{unique}", today=today), headers=sec)).json()
        await upload_documents(intake, auth("htx", "applicant"))  # a dossier lists stored content (ADR 0045)
        dossier = (await intake.post(f"/rounds/{rnd['round_id']}/dossiers", json=dossier_body(product="Nước mắm"),
                                     headers=auth("htx", "applicant"))).json()["dossier_id"]
        accepted = (await intake.post(f"/dossiers/{dossier}/accept", headers=sec,
                                      json={"product_group": "thực phẩm"})).json()
        await eventually(lambda: _count(mailbox, 2), what="the receipt and the acceptance mails")
        kho = "Kho Sở Công Thương tỉnh Kiên Giang, số 5 Trần Phú"
        r = await intake.post(f"/dossiers/{dossier}/samples/received", headers=sec, json={
            "count": 5, "condition": "nguyên vẹn", "storage_place": kho, "received_by": "Nguyễn Văn Nhận",
            "handed_over_by": "Trần Thị Giao"})
        assert r.status_code == 201, r.text
        assert (await intake.post(f"/dossiers/{dossier}/samples/consumed", headers=sec,
                                  json={"count": 2, "place": kho, "note": "nếm thử"})).status_code == 201
        notice = {"place": kho, "from_date": (today + timedelta(days=3)).isoformat(),
                  "until_date": (today + timedelta(days=10)).isoformat(),
                  "occasion": "sau khi kết thúc hội chợ triển lãm"}
        r = await intake.post(f"/rounds/{rnd['round_id']}/samples/return-notice", headers=sec, json=notice)
        assert r.status_code == 201 and r.json()["notified"] == [dossier], r.text
        await eventually(lambda: _count(mailbox, 3), what="the samples-due-back mail")

    to, subject, text = mailbox.texts()[2]
    assert to == "htx.donghung@example.vn"
    assert subject == f"[{accepted['receipt_number']}] Mời nhận lại mẫu sản phẩm"
    lines = text.splitlines()
    assert lines[0] == f"Kính gửi {dossier_body()['producer']['name']},"
    assert (f'Mẫu sản phẩm "Nước mắm" (mã số bình chọn {accepted["sample_code"]}) đã hết thời gian lưu giữ phục vụ '
            "bình chọn (sau khi kết thúc hội chợ triển lãm).") in lines
    assert "Đề nghị cơ sở cử người đến nhận lại 3 mẫu sản phẩm:" in lines
    assert f"Địa điểm: {kho}" in lines
    assert (f"Thời gian: từ ngày {(today + timedelta(days=3)):%d/%m/%Y} đến ngày "
            f"{(today + timedelta(days=10)):%d/%m/%Y}") in lines
    html = mailbox.messages[2].get_body(("html",))
    assert html is not None and "Địa điểm: Kho Sở Công Thương" in html.get_content()
