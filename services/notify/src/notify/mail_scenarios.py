"""Test support: every mail notify writes, rendered the way the service renders it, from realistic events.

Each event goes through the service's own path: ``messages_for`` picks the recipients, ``context_for`` builds what
the template sees (with the contact notify keeps for the event's subject: none for a ceremony, whose subject is
the round), and the bundled templates render it. Two variants: short names, and long ones with diacritics that
fold a Subject header several times.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from binhchon_kit.canonical import chain_hash
from binhchon_kit.contracts.certification import (
    CeremonyScheduled,
    CertificateExpired,
    CertificateExpiring,
    CertificateIssued,
    CertificateRevoked,
    Holder,
    Invitee,
)
from binhchon_kit.contracts.common import DecisionReference
from binhchon_kit.contracts.intake import (
    DossierAccepted,
    DossierReceived,
    DossierRejected,
    DossierRescheduled,
    DossierSupplementRequested,
    MissingItem,
)
from binhchon_kit.contracts.ledger import AwardPaid, FeePaid
from binhchon_kit.contracts.registry import EventData, registration_of
from binhchon_kit.contracts.samples import SamplesReturnDue
from binhchon_kit.contracts.scoring import (
    MandatoryOutcome,
    MemberSubstituted,
    PanelFormed,
    PanelMember,
    PartAverage,
    ProposalRow,
    Quorum,
    Rating,
    ResultApproved,
    ResultNotRecognised,
    ResultProposed,
    ScoringCompleted,
    ScoringOpened,
)
from binhchon_kit.events import Actor, RecordedEvent, hashed_content
from notify.adapters.templates import Templates, context_for
from notify.domain.messages import Recipient, messages_for

TEMPLATES = Templates()
CERTIFICATION_URL = "https://chungnhan.binhchon.vn"
INTAKE_URL = "https://hoso.binhchon.vn"
RECEIVED_AT = datetime(2026, 11, 22, 23, 26, tzinfo=UTC)  # 23/11/2026 06:26 in Hà Nội


@dataclass(frozen=True)
class Names:
    round_code: str
    receipt_number: str
    product: str
    producer: str
    ceremony: str
    panel: str
    round_title: str
    authority: str
    certificate_number: str
    second_product: str
    second_certificate_number: str
    unmet: tuple[str, ...]


VARIANTS = {
    "short": Names(round_code="BG-26", receipt_number="BG-26-00007", product="Miến dong", producer="HTX An Lạc",
                   ceremony="Lễ công bố sản phẩm OCOP", panel="Hội đồng OCOP tỉnh", authority="UBND tỉnh Bắc Giang",
                   round_title="Đánh giá sản phẩm OCOP tỉnh Bắc Giang năm 2026",
                   certificate_number="OCOP-BG-2026-00007", second_product="Mật ong",
                   second_certificate_number="OCOP-BG-2026-00009", unmet=("Nguồn gốc nguyên liệu",)),
    "long": Names(
        round_code="OCOP-BACGIANG-TINH-2026-DOT2-KHUVUC-PB",
        receipt_number="OCOP-BACGIANG-TINH-2026-DOT2-KHUVUC-PB-00123",
        product="Mật ong rừng nguyên chất thu hoạch từ hoa vải thiều và hoa nhãn lồng vùng đồi núi Lục Nam, "
                "Sơn Động, Lục Ngạn, đóng chai thủy tinh 500 ml có tem truy xuất nguồn gốc điện tử",
        producer="Hợp tác xã Dịch vụ Nông nghiệp và Phát triển Nông thôn Bền vững Đông Hưng – Lục Nam",
        ceremony="Lễ tôn vinh, trao giấy chứng nhận sản phẩm công nghiệp nông thôn tiêu biểu cấp khu vực phía "
                 "Bắc năm 2026 và công bố sản phẩm đạt chuẩn OCOP 4 sao, 5 sao tỉnh Bắc Giang",
        panel="Hội đồng đánh giá, phân hạng sản phẩm thuộc Chương trình Mỗi xã một sản phẩm tỉnh Bắc Giang "
              "năm 2026, đợt 2",
        round_title="Đánh giá, phân hạng sản phẩm thuộc Chương trình Mỗi xã một sản phẩm tỉnh Bắc Giang năm 2026, "
                    "đợt 2, cấp tỉnh, dành cho các sản phẩm đã được cấp huyện đề xuất",
        authority="Ủy ban nhân dân tỉnh Bắc Giang",
        certificate_number="OCOP-UBNDTBG-2026-00123",
        second_product="Miến dong Sơn Động làm thủ công từ củ dong riềng đỏ trồng trên đất đồi, phơi nắng tự nhiên, "
                       "đóng gói 500 g",
        second_certificate_number="OCOP-UBNDTBG-2026-00124",
        unmet=("Sản phẩm có tiêu chuẩn cơ sở và công bố chất lượng theo quy định",
               "Nguồn gốc nguyên liệu được kiểm soát trong tỉnh")),
}


@dataclass(frozen=True)
class Rendered:
    template: str
    case: str  # what in the event makes this mail different from the others of its template
    recipient: Recipient
    subject: str
    text: str
    html: str


def recorded(data: EventData, subject: str, n: int) -> RecordedEvent:
    """``data`` as the n-th event of ``subject``, its type and schema version from its class."""
    registration = registration_of(type(data))
    fields: dict[str, Any] = {
        "id": f"event-{n:03d}", "stream": subject, "version": n, "type": registration.type,
        "schema_version": registration.schema_version,
        "subject": subject, "time": RECEIVED_AT, "data": data.model_dump(mode="json"),
        "actor": Actor("someone"), "correlation_id": "c", "causation_id": "c", "source": "/binhchon/test"}
    return RecordedEvent(**fields, prev_hash="", hash=chain_hash("", hashed_content(**fields)))


def render_all(variant: str) -> list[Rendered]:
    """Every mail of one variant's dossier, panel and ceremony."""
    names = VARIANTS[variant]
    dossier, second_dossier, round_id = "dossier-7", "dossier-9", "round-bg-26"
    producer_email = "htx@example.vn"
    contact = {"recipient_id": "producer:2400123456", "name": names.producer, "email": producer_email,
               "receipt_number": names.receipt_number, "product_name": names.product, "province_code": "24"}
    producer = Recipient(contact["recipient_id"], names.producer, producer_email)
    decision = DecisionReference(number="1234/QĐ-UBND", date=date(2026, 12, 8), signer="Trần Văn Ký",
                                 authority=names.authority)
    members = [PanelMember(id="gk-1", name="Nguyễn Thị Hà", organisation="Sở Nông nghiệp và Môi trường",
                           role="chair", email="ha@example.vn"),
               PanelMember(id="gk-2", name="Lê Văn Bình", organisation="Sở Công Thương", role="member",
                           email="binh@example.vn"),
               PanelMember(id="tk-1", name="Phạm Thu Trang", organisation="Văn phòng Điều phối nông thôn mới",
                           role="secretary", email="trang@example.vn")]
    panel = PanelFormed(panel_id="panel-1", round_id=round_id, name=names.panel, members=members,
                        quorum=Quorum(fraction=0.75), sessions=["dossier"])
    round_ = {"round_id": round_id, "code": names.round_code, "title": names.round_title,
              "schedule": {"scoring_closes": "2026-12-05"}}
    approvers = [Recipient("ubnd-bg", "Văn phòng UBND tỉnh Bắc Giang", "vp@example.vn")]
    not_recognised = {
        "dossier_id": dossier, "round_id": round_id, "programme": "OCOP", "level": "district", "points": 49.0,
        "rating_label": "2 sao", "next_step": "Hoàn thiện sản phẩm và hồ sơ, đăng ký tham gia đợt đánh giá sau.",
        "decision": decision, "product_name": names.product, "producer_name": names.producer,
        "producer_registration_number": "2400123456"}
    # a code and its parameters make the sentence: ``reason`` (what older producers wrote) is never shown then
    legacy_english = "2 sao (49.0 điểm) is not recognised at the district level"
    issued = CertificateIssued(
        certificate_id="certificate-1", number=names.certificate_number, dossier_id=dossier, round_id=round_id,
        programme="OCOP", level="province", product_name=names.product,
        holder=Holder(name=names.producer, address="Xã Đông Hưng, tỉnh Bắc Giang"), rating_label="4 sao", stars=4,
        points=78.5, decision=decision, issued_on=date(2026, 12, 21), valid_until=date(2029, 12, 8),
        issuer=names.authority, rulebook_id="ocop-2023", result_event_id="r", signature="s", key_id="k")
    opened = ScoringOpened(
        dossier_id=dossier, round_id=round_id, programme="OCOP", level="province",
        rulebook_id="ocop-2023", rulebook_version=1, sheet_id="general", product_group="thực phẩm",
        product_name=names.product, producer_name=names.producer, sample_code="TP-07")
    ceremony = {"ceremony_id": "ceremony-1", "round_id": round_id, "title": names.ceremony, "on": date(2027, 1, 9),
                "at": "08:30", "place": "Nhà văn hóa tỉnh Bắc Giang, số 1 đường Nguyễn Văn Cừ"}
    certificate = Invitee(certificate_number=names.certificate_number, holder=names.producer,
                          product_name=names.product, dossier_id=dossier)
    # the same producer's second certificate in that ceremony: one invitation names both
    second = Invitee(certificate_number=names.second_certificate_number, holder=names.producer,
                     product_name=names.second_product, dossier_id=second_dossier)
    events: list[tuple[str, EventData, str]] = [
        ("", DossierReceived.model_validate({
            "dossier_id": dossier, "round_id": round_id, "round_code": names.round_code, "programme": "OCOP",
            "level": "province", "receipt_number": names.receipt_number, "received_at": RECEIVED_AT,
            "check_due_date": date(2026, 11, 26),
            "producer": {"kind": "cooperative", "name": names.producer, "registration_number": "2400123456",
                         "address": {"commune": "Xã Đông Hưng", "province": "Tỉnh Bắc Giang",
                                     "province_code": "24"},
                         "contact": {"person": "Nguyễn Văn Đức", "phone": "0912 345 678", "email": producer_email}},
            "product": {"name": names.product, "product_group": "thực phẩm", "sample_count": 5},
            "documents": []}), dossier),
        ("", DossierSupplementRequested(
            items=[MissingItem(document_kind="quality_declaration", description="Bản tự công bố chất lượng"),
                   MissingItem(description="Ảnh nhãn sản phẩm rõ nét")],
            reason="Thiếu hồ sơ chất lượng", due_date=date(2026, 12, 3), request_number=1), dossier),
        ("", DossierAccepted(
            round_id=round_id, rulebook_id="ocop-2023", programme="OCOP", level="province",
            product_group="thực phẩm", sample_code="TP-07", result_due_date=date(2026, 12, 20),
            product_name=names.product, producer_name=names.producer), dossier),
        ("", DossierRejected(reason="Sản phẩm không thuộc nhóm sản phẩm của đợt"), dossier),
        ("check", DossierRescheduled(
            which="check", previous_date=date(2026, 11, 26), new_date=date(2026, 12, 1),
            apology_note="Ban thư ký xin lỗi vì chậm kiểm tra hồ sơ."), dossier),
        ("result", DossierRescheduled(
            which="result", previous_date=None, new_date=date(2027, 1, 15),
            apology_note="Ban thư ký xin lỗi vì hội đồng họp muộn."), dossier),
        ("", panel, round_id),
        ("", opened, dossier),
        ("", MemberSubstituted(
            dossier_id=dossier, round_id=round_id, panel_id="panel-1", replaces="gk-2",
            substitute=PanelMember(id="gk-5", name="Đỗ Minh Tuấn", organisation="Trường Đại học Nông Lâm Bắc Giang",
                                   role="member", email="tuan@example.vn"),
            reason="Ông Lê Văn Bình có quan hệ họ hàng với chủ thể sản xuất nên không tham gia chấm hồ sơ này."),
         dossier),
        ("", ScoringCompleted(
            dossier_id=dossier, round_id=round_id, rulebook_id="ocop-2023", rulebook_version=1, scoring_round=1,
            average_total=78.5, rounding="half up, 2 decimals",
            part_averages=[PartAverage(code="A", label="Sản phẩm và sức mạnh cộng đồng", average=30.5,
                                       maximum=40)],
            totals={"gk-1": 78.0, "gk-2": 79.0}, outliers=[], band_stars=4, stars=4, rating_label="4 sao",
            mandatory=[MandatoryOutcome(code="B1", label="Nguồn gốc", average=2, minimum=1, met=True)],
            recognised_at_level=True, goes_up_a_level=False, spread=1.0, spread_exceeded=False), dossier),
        ("", ResultProposed(proposal_id="proposal-1", round_id=round_id, rows=[
            ProposalRow(rank=1, dossier_id=dossier, product_name=names.product, producer_name=names.producer,
                        average_total=78.5, rating_label="4 sao", stars=4, recognised_at_level=True,
                        goes_up_a_level=False),
            ProposalRow(rank=2, dossier_id="dossier-8", product_name="Gà đồi Yên Thế", producer_name="HTX Yên Thế",
                        average_total=49.0, rating_label="2 sao", stars=2, recognised_at_level=False,
                        goes_up_a_level=False)]), round_id),
        ("recognised", ResultApproved(
            dossier_id=dossier, round_id=round_id, programme="OCOP", level="province",
            rulebook_id="ocop-2023", rating=Rating(stars=4, recognised=True, label="4 sao"), points=78.5,
            decision=decision, goes_up_a_level=False, product_name=names.product, producer_name=names.producer),
         dossier),
        ("goes_up", ResultApproved(
            dossier_id=dossier, round_id=round_id, programme="OCOP", level="district",
            rulebook_id="ocop-2019", rating=Rating(stars=3, recognised=True, label="3 sao"), points=65.25,
            decision=decision, goes_up_a_level=True, next_level="province",
            product_name=names.product, producer_name=names.producer), dossier),
        ("below_level", ResultNotRecognised.model_validate({
            **not_recognised, "reason": legacy_english, "reason_code": "below_level",
            "reason_params": {"points": 49.0, "rating_label": "2 sao", "level": "district"}}), dossier),
        ("mandatory_unmet", ResultNotRecognised.model_validate({
            **not_recognised, "reason": legacy_english, "reason_code": "mandatory_unmet",
            "reason_params": {"points": 49.0, "rating_label": "2 sao", "level": "district",
                              "unmet_mandatory": list(names.unmet)}}), dossier),
        ("legacy", ResultNotRecognised.model_validate({
            **not_recognised, "reason": "Sản phẩm chưa đạt mức 3 sao để được công nhận ở cấp huyện"}), dossier),
        ("", issued, dossier),
        ("", CertificateExpiring(
            number=names.certificate_number, valid_until=date(2029, 12, 8), holder=issued.holder,
            product_name=names.product), dossier),
        ("", CertificateExpired(number=names.certificate_number, valid_until=date(2029, 12, 8)), dossier),
        ("", CertificateRevoked(
            number=names.certificate_number, reason="Sản phẩm không còn đáp ứng tiêu chí bắt buộc",
            revoked_on=date(2027, 6, 1)), dossier),
        ("", SamplesReturnDue(
            dossier_id=dossier, round_id=round_id, selection_code="MS-K2M7U", product_name=names.product, count=3,
            place="Kho Sở Công Thương, số 5 đường Trần Phú", from_date=date(2026, 12, 10),
            until_date=date(2026, 12, 20), occasion="sau khi kết thúc hội chợ triển lãm", at=RECEIVED_AT), dossier),
        ("", CeremonyScheduled.model_validate({**ceremony, "invitees": [certificate]}), round_id),
        # prizes and fees (ADR 0050): the producer told of the prize paid, the judge of the fee
        ("", AwardPaid(award_id="award-1", round_id=round_id, amount=5_000_000, payment_reference="UNC-017/2026",
                       paid_on=date(2027, 1, 12)), dossier),
        ("", FeePaid(fee_id="fee-1", round_id=round_id, member_id="gk-2", session="samples", amount=1_500_000,
                     payment_reference="PC-042/2026", paid_on=date(2027, 1, 12)), round_id),
        ("two_certificates",
         CeremonyScheduled.model_validate({**ceremony, "invitees": [certificate, second]}), round_id),
    ]
    out = []
    for n, (case, data, subject) in enumerate(events, start=1):
        event = recorded(data, subject, n)
        # what the service looks up for the event's subject: a dossier's contact, nothing for a round
        about = contact if subject == dossier else None
        for message in messages_for(event, producer=producer if about else None,
                                    panel=panel.model_dump(mode="json"), approvers=approvers,
                                    contacts={dossier: producer, second_dossier: producer}, round_=round_,
                                    scoring=opened.model_dump(mode="json")):
            context = context_for(message, about, certification_url=CERTIFICATION_URL, intake_url=INTAKE_URL)
            subject_line, text, html = TEMPLATES.render(message.template, context)
            out.append(Rendered(message.template, case, message.recipient, subject_line, text, html))
    return out


def all_mails() -> list[tuple[str, Rendered]]:
    """(a readable id, the mail) for every mail of every variant."""
    out = []
    for variant in VARIANTS:
        for mail in render_all(variant):
            out.append((f"{mail.template}{'-' + mail.case if mail.case else ''}-{mail.recipient.id}-{variant}", mail))
    return out
