"""The secretariat's pages over stand-ins for intake, scoring and certification (an httpx transport answering as
their APIs do and noting every request): what each page asks of which service with whose token, what it sends
when a form is posted, and how it shows the answers and refusals. The real services are the browser test's."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest

from binhchon_kit.testing.samples import dossier_body, round_body
from portal.sessions import COOKIE

TODAY = date(2026, 11, 23)  # a Monday
TOKEN = "token-of-the-secretariat"
ROUND_ID = "round-1"
SHA = "c" * 64


def a_dossier(n: int, status: str, check_due: str) -> dict[str, Any]:
    body = dossier_body(product=f"Sản phẩm {n}")
    return {"dossier_id": f"d-{n}", "round_id": ROUND_ID, "receipt_number": f"PT-2026-{n:06d}", "status": status,
            "received_at": "2026-11-16T09:00:00+07:00", "check_due_date": check_due, "result_due_date": None,
            "producer": body["producer"], "product": body["product"], "round_code": "PT1",
            "history": [{"type": "dossier.received", "time": "2026-11-16T02:00:00Z",
                         "data": {"documents": [{"kind": "registration_form", "file_name": "phieu-dang-ky.pdf",
                                                 "size_bytes": 120_000, "sha256": SHA}]}}]}


@dataclass
class Services:
    """Intake, scoring and certification as far as these pages call them; ``answers``: a response a test puts in
    place of the usual one, by method and path."""

    requests: list[httpx.Request] = field(default_factory=list)
    answers: dict[tuple[str, str], httpx.Response] = field(default_factory=dict)
    dossiers: list[dict[str, Any]] = field(default_factory=lambda: [
        a_dossier(1, "received", "2026-11-18"), a_dossier(2, "supplemented", "2026-11-25"),
        a_dossier(3, "accepted", "2026-11-19")])

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.method == method and r.url.path == path]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = (request.method, request.url.path)
        if key in self.answers:
            return self.answers[key]
        service, q = request.url.host, request.url.params
        if service == "intake":
            return self.intake(request, q)
        if service == "scoring":
            return self.scoring(request)
        return httpx.Response(200, json={"items": [], "next": None})  # certification: no ceremony yet

    def intake(self, request: httpx.Request, q: httpx.QueryParams) -> httpx.Response:
        path = request.url.path
        if path in ("/rounds", f"/rounds/{ROUND_ID}") and request.method == "GET":
            one = {"round_id": ROUND_ID, **round_body("PT1", today=TODAY), "max_supplement_requests": 1}
            return httpx.Response(200, json=one if path != "/rounds" else {"items": [one], "next": None})
        if path == "/rounds":
            return httpx.Response(201, json={"round_id": "round-new", **json.loads(request.content)})
        if path == "/dossiers":
            found = [d for d in self.dossiers if q.get("status") in (None, d["status"])]
            limit = int(q["limit"])
            return httpx.Response(200, json={"items": found[:limit], "limit": limit,
                                             "next": "PT-2026-000001" if len(found) > limit else None,
                                             **({"total": len(found)} if q.get("total") else {})})
        if path == "/dossiers/overdue":
            late = [d for d in self.dossiers if d["status"] in ("received", "supplemented")
                    and d["check_due_date"] < q["as_of"]]
            return httpx.Response(200, json={"items": late, "limit": 20, "next": None})
        if match := re.fullmatch(r"/dossiers/(d-\d)(/.*)?", path):
            dossier = next(d for d in self.dossiers if d["dossier_id"] == match[1])
            if match[2] == f"/documents/{SHA}":
                return httpx.Response(200, content=b"%PDF-1.7 test", headers={
                    "content-type": "application/pdf", "content-disposition": 'attachment; filename="a.pdf"'})
            if match[2]:
                return httpx.Response(201, json={"type": "done"})
            return httpx.Response(200, json=dossier)
        return httpx.Response(404, json={"detail": "Not Found"})

    def scoring(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/rulebooks":
            return httpx.Response(200, json=[{"id": "ocop-2025", "title": "Bộ tiêu chí OCOP 2025"}])
        if path == f"/rounds/{ROUND_ID}/panel" and request.method == "GET":
            return httpx.Response(200, json={"name": "Hội đồng", "members": [
                {"id": f"cm-{k}", "name": f"Thành viên {k}", "organisation": "Sở NN", "role": role}
                for k, role in enumerate(("chair", "member", "member", "secretary"), 1)],
                "quorum": {"fraction": 0.75, "chair_required": True}, "sessions": ["dossier"],
                "spread_threshold": 10, "max_rescoring_rounds": 2})
        if path == f"/rounds/{ROUND_ID}/dossiers":
            return httpx.Response(200, json={"items": [
                {"dossier_id": "d-3", "sample_code": "M-003", "product_name": "Sản phẩm 3", "status": "open",
                 "product_group": "thực phẩm", "scoring_round": 1, "submitted": ["cm-1", "cm-2"], "recused": []}],
                "limit": 20, "next": None, "total": 1})
        return httpx.Response(201, json={"panel_id": "p"})


@pytest.fixture
async def portal(stand_in_portal: Any) -> AsyncIterator[tuple[httpx.AsyncClient, Services]]:
    services = Services()
    app = stand_in_portal(services)
    sessions = app.state.sessions
    session = sessions.signed_in(sessions.new(), subject="to-giup-viec", name="Trần Thị Mai",
                                 roles=("secretariat",), access_token=TOKEN)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal",
                                 cookies={COOKIE: session.id}) as client:
        client.headers["x-csrf"] = session.csrf  # kept at hand for the forms below (the portal ignores it)
        yield client, services


def csrf(client: httpx.AsyncClient) -> str:
    return client.headers["x-csrf"]


Portal = tuple[httpx.AsyncClient, Services]


def all_with_the_token(services: Services, service: str | None = None) -> bool:
    return all(r.headers.get("authorization") == f"Bearer {TOKEN}" for r in services.requests
               if r.url.path != "/rulebooks" and service in (None, r.url.host))


async def test_opening_a_round_sends_the_usual_fields_and_leads_to_its_dashboard(portal: Portal) -> None:
    client, services = portal
    page = await client.get("/to-giup-viec/mo-dot")
    assert page.status_code == 200 and 'value="2026"' in page.text and "Bộ tiêu chí OCOP 2025" in page.text
    r = await client.post("/to-giup-viec/mo-dot", data={
        "csrf": csrf(client), "code": "PT2", "title": "Đánh giá sản phẩm OCOP tỉnh Bắc Giang năm 2026",
        "programme": "OCOP", "rulebook_id": "ocop-2025", "level": "district", "year": "2026", "batch": "2",
        "province_code": "24", "district_code": "218", "commune_code": "", "organiser": "UBND huyện Lục Nam",
        "approving_authority": "", "submission_opens": "2026-11-20", "submission_closes": "2026-12-20",
        "check_working_days": "3", "supplement_working_days": "5", "max_supplement_requests": "2",
        "council_date": "2027-01-15", "scoring_opens": ""})
    assert r.status_code == 303 and r.headers["location"] == "/to-giup-viec/dot/round-new"
    [sent] = services.sent("POST", "/rounds")
    assert json.loads(sent.content) == {
        "code": "PT2", "title": "Đánh giá sản phẩm OCOP tỉnh Bắc Giang năm 2026", "programme": "OCOP",
        "rulebook_id": "ocop-2025", "level": "district", "area": {"province_code": "24", "district_code": "218"},
        "year": 2026, "batch": 2, "organiser": "UBND huyện Lục Nam", "approving_authority": None,
        "schedule": {"submission_opens": "2026-11-20", "submission_closes": "2026-12-20",
                     "council_date": "2027-01-15", "check_working_days": 3, "supplement_working_days": 5},
        "max_supplement_requests": 2}
    assert all_with_the_token(services, "intake")


async def test_a_round_intake_refuses_comes_back_with_the_fields_named_in_vietnamese(portal: Portal) -> None:
    client, services = portal
    services.answers["POST", "/rounds"] = httpx.Response(422, json={"detail": [
        {"loc": ["body", "schedule", "submission_closes"], "msg": "must follow submission_opens"},
        {"loc": ["body", "code"], "msg": "pattern"}]})
    r = await client.post("/to-giup-viec/mo-dot", data={"csrf": csrf(client), "code": "mã có dấu",
                                                        "title": "Đợt thử", "year": "năm nay"})
    assert r.status_code == 422
    assert "Cần xem lại: Ngày kết thúc nhận hồ sơ, Mã đợt." in r.text
    assert 'value="mã có dấu"' in r.text  # what was typed is kept
    assert json.loads(services.sent("POST", "/rounds")[0].content)["year"] == "năm nay"  # intake judges it


async def test_the_dashboard_counts_by_status_and_says_due_and_overdue_in_working_days(portal: Portal) -> None:
    client, services = portal
    r = await client.get(f"/to-giup-viec/dot/{ROUND_ID}")
    assert r.status_code == 200
    text = re.sub(r"\s+", " ", r.text)
    assert "Đã tiếp nhận: <strong>1</strong>" in text and "Hồ sơ hợp lệ: <strong>1</strong>" in text
    assert "Không tiếp nhận: <strong>0</strong>" in text
    # d-1 was due Wed 18/11: Thu 19, Fri 20 and Mon 23 have passed since; d-2 is due Wed 25/11: one working day
    # left, Tue 24/11 being Vietnam's Culture Day (a public holiday from 2026)
    assert "<td>18/11/2026</td> <td>3 ngày làm việc</td>" in text
    assert "<td>25/11/2026</td> <td>1 ngày làm việc</td>" in text
    assert services.sent("GET", "/dossiers/overdue")[0].url.params["as_of"] == "2026-11-23"
    counted = [r.url.params for r in services.sent("GET", "/dossiers") if r.url.params.get("total")]
    assert {p["status"] for p in counted} == {"received", "supplement_requested", "supplemented", "accepted",
                                              "rejected", "withdrawn"}
    assert all_with_the_token(services)


async def test_the_dashboard_pages_by_the_apis_after(portal: Portal) -> None:
    client, services = portal
    services.dossiers += [a_dossier(n, "accepted", "2026-11-19") for n in range(4, 30)]
    first = await client.get(f"/to-giup-viec/dot/{ROUND_ID}?status=accepted")
    assert "?status=accepted&amp;after=PT-2026-000001" in first.text
    await client.get(f"/to-giup-viec/dot/{ROUND_ID}?status=accepted&after=PT-2026-000001")
    listed = [r.url.params for r in services.sent("GET", "/dossiers") if r.url.params["limit"] == "20"]
    assert listed[-1]["after"] == "PT-2026-000001" and listed[-1]["status"] == "accepted"


async def test_the_check_page_links_each_document_through_the_portal(portal: Portal) -> None:
    client, services = portal
    r = await client.get("/to-giup-viec/ho-so/d-1")
    assert f'href="/to-giup-viec/ho-so/d-1/tai-lieu/{SHA}">phieu-dang-ky.pdf' in r.text
    assert "quá hạn 3 ngày làm việc" in r.text
    pdf = await client.get(f"/to-giup-viec/ho-so/d-1/tai-lieu/{SHA}")
    assert pdf.status_code == 200 and pdf.content == b"%PDF-1.7 test"
    assert pdf.headers["content-type"] == "application/pdf" and pdf.headers["x-content-type-options"] == "nosniff"
    assert pdf.headers["content-disposition"] == 'attachment; filename="a.pdf"'
    assert all_with_the_token(services)


async def test_a_document_intake_does_not_have_is_a_404_in_vietnamese(portal: Portal) -> None:
    client, services = portal
    services.answers["GET", f"/dossiers/d-1/documents/{'d' * 64}"] = httpx.Response(404, json={"detail": "no"})
    r = await client.get(f"/to-giup-viec/ho-so/d-1/tai-lieu/{'d' * 64}")
    assert r.status_code == 404 and "Không tìm thấy tài liệu này" in r.text
    before = len(services.requests)
    r = await client.get("/to-giup-viec/ho-so/d-1/tai-lieu/..%2F..%2Frounds")
    assert r.status_code == 404 and len(services.requests) == before  # not a digest: never sent on


async def test_one_supplement_request_lists_every_missing_item(portal: Portal) -> None:
    client, services = portal
    r = await client.post("/to-giup-viec/ho-so/d-1/yeu-cau-bo-sung", data={
        "csrf": csrf(client), "kind_0": "test_report", "missing_0": "Phiếu kết quả kiểm nghiệm",
        "kind_1": "", "missing_1": "Bản sao giấy chứng nhận vùng trồng", "kind_2": "photo", "missing_2": "",
        "supplement_reason": "Hồ sơ còn thiếu tài liệu", "due_date": ""})
    assert r.status_code == 303 and r.headers["location"] == "/to-giup-viec/ho-so/d-1"
    [sent] = services.sent("POST", "/dossiers/d-1/supplement-request")
    assert json.loads(sent.content) == {"items": [
        {"document_kind": "test_report", "description": "Phiếu kết quả kiểm nghiệm"},
        {"document_kind": None, "description": "Bản sao giấy chứng nhận vùng trồng"}],
        "reason": "Hồ sơ còn thiếu tài liệu", "due_date": None}
    assert "Đã gửi văn bản yêu cầu bổ sung" in (await client.get("/to-giup-viec/ho-so/d-1")).text


async def test_a_supplement_request_without_items_is_not_sent(portal: Portal) -> None:
    client, services = portal
    r = await client.post("/to-giup-viec/ho-so/d-1/yeu-cau-bo-sung", data={
        "csrf": csrf(client), "missing_0": " ", "supplement_reason": "Thiếu"})
    assert r.status_code == 422 and "Hãy ghi ít nhất một nội dung còn thiếu" in r.text
    assert services.sent("POST", "/dossiers/d-1/supplement-request") == []


async def test_accepting_sends_the_group_and_sample_code_and_shows_a_refusal(portal: Portal) -> None:
    client, services = portal
    r = await client.post("/to-giup-viec/ho-so/d-2/tiep-nhan", data={
        "csrf": csrf(client), "product_group": "thực phẩm", "sample_code": "M-002"})
    assert r.status_code == 303
    assert json.loads(services.sent("POST", "/dossiers/d-2/accept")[0].content) == {
        "product_group": "thực phẩm", "sample_code": "M-002"}
    services.answers["POST", "/dossiers/d-1/reject"] = httpx.Response(409, json={"detail": "cannot reject"})
    r = await client.post("/to-giup-viec/ho-so/d-1/tu-choi", data={"csrf": csrf(client), "reject_reason": "Trùng"})
    assert r.status_code == 409 and "ở trạng thái hiện tại của hồ sơ" in r.text and ">Trùng</textarea>" in r.text


async def test_a_reschedule_slip_is_sent_and_printed(portal: Portal) -> None:
    client, services = portal
    r = await client.post("/to-giup-viec/ho-so/d-1/hen-lai", data={
        "csrf": csrf(client), "which": "check", "new_date": "2026-11-27", "apology_note": "Cán bộ đi công tác"})
    assert r.status_code == 303
    assert json.loads(services.sent("POST", "/dossiers/d-1/reschedule")[0].content) == {
        "which": "check", "new_date": "2026-11-27", "apology_note": "Cán bộ đi công tác"}
    services.dossiers[0]["history"].append({"type": "dossier.rescheduled", "time": "2026-11-23T03:00:00Z", "data": {
        "which": "check", "previous_date": "2026-11-18", "new_date": "2026-11-27",
        "apology_note": "Cán bộ đi công tác"}})
    slip = await client.get("/to-giup-viec/ho-so/d-1/phieu-hen-lai/1")
    assert "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in slip.text
    assert "là ngày 18/11/2026" in slip.text and "<strong>27/11/2026</strong>" in slip.text
    assert "10:00 ngày 23/11/2026" in slip.text
    assert (await client.get("/to-giup-viec/ho-so/d-1/phieu-hen-lai/2")).status_code == 404


async def test_forming_the_panel_sends_its_members_and_sessions(portal: Portal) -> None:
    client, services = portal
    services.answers["GET", f"/rounds/{ROUND_ID}/panel"] = httpx.Response(404, json={"detail": "no panel"})
    form = await client.get(f"/to-giup-viec/dot/{ROUND_ID}/hoi-dong")
    assert "Thành lập hội đồng" in form.text and 'for="member_id_8"' in form.text
    r = await client.post(f"/to-giup-viec/dot/{ROUND_ID}/hoi-dong", data={
        "csrf": csrf(client), "name": "Hội đồng OCOP", "member_id_0": "cm-1", "member_name_0": "Nguyễn Văn A",
        "member_organisation_0": "Sở NN và PTNT", "member_role_0": "chair", "member_email_0": "",
        "member_id_1": "cm-2", "member_name_1": "Lê Thị B", "member_organisation_1": "Sở Y tế",
        "member_role_1": "member", "member_email_1": "b@example.vn", "member_id_2": "",
        "sessions": ["dossier", "samples"], "fraction": "0,8", "chair_required": "1",
        "spread_threshold": "10", "max_rescoring_rounds": "2"})
    assert r.status_code == 303
    assert json.loads(services.sent("POST", f"/rounds/{ROUND_ID}/panel")[0].content) == {
        "name": "Hội đồng OCOP", "members": [
            {"id": "cm-1", "name": "Nguyễn Văn A", "organisation": "Sở NN và PTNT", "role": "chair", "email": None},
            {"id": "cm-2", "name": "Lê Thị B", "organisation": "Sở Y tế", "role": "member",
             "email": "b@example.vn"}],
        "quorum": {"fraction": 0.8, "chair_required": True}, "sessions": ["dossier", "samples"],
        "spread_threshold": 10, "max_rescoring_rounds": 2}
    assert all_with_the_token(services, "scoring")


async def test_scoring_progress_shows_who_submitted_and_asks_for_no_mark(portal: Portal) -> None:
    client, services = portal
    r = await client.get(f"/to-giup-viec/dot/{ROUND_ID}/cham-diem")
    text = re.sub(r"\s+", " ", r.text)
    assert "<td>M-003</td>" in text and "<td>Đang chấm điểm</td> <td>2/3</td>" in text  # the secretary scores not
    asked = {r.url.path for r in services.requests if r.url.host == "scoring"}
    assert asked == {f"/rounds/{ROUND_ID}/panel", f"/rounds/{ROUND_ID}/dossiers"}
    assert all_with_the_token(services)


async def test_a_ceremony_is_scheduled_with_certifications_warnings_shown(portal: Portal) -> None:
    client, services = portal
    services.answers["POST", "/ceremonies"] = httpx.Response(201, json={"ceremony_id": "c", "warnings": [
        {"code": "invitation_late", "message": "Giấy mời không thể gửi trước 3 ngày: buổi lễ chỉ còn 2 ngày."}]})
    r = await client.post(f"/to-giup-viec/dot/{ROUND_ID}/le-trao", data={
        "csrf": csrf(client), "title": "Lễ trao", "on": "2026-11-25", "at": "08:30", "place": "Hội trường UBND"})
    assert r.status_code == 200 and "buổi lễ chỉ còn 2 ngày" in r.text
    assert json.loads(services.sent("POST", "/ceremonies")[0].content) == {
        "round_id": ROUND_ID, "title": "Lễ trao", "on": "2026-11-25", "at": "08:30", "place": "Hội trường UBND"}


@pytest.mark.parametrize(("status", "says"), [(403, "không có quyền thực hiện"), (404, "Không tìm thấy")])
async def test_a_service_refusal_is_shown_in_vietnamese(portal: Portal, status: int, says: str) -> None:
    client, services = portal
    services.answers["GET", "/dossiers/d-1"] = httpx.Response(status, json={"detail": "refused"})
    r = await client.get("/to-giup-viec/ho-so/d-1")
    assert r.status_code == status and says in r.text and "refused" not in r.text


async def test_a_form_without_the_sessions_csrf_token_reaches_no_service(portal: Portal) -> None:
    client, services = portal
    for path in ("/to-giup-viec/mo-dot", "/to-giup-viec/ho-so/d-1/tiep-nhan", f"/to-giup-viec/dot/{ROUND_ID}/hoi-dong"):
        r = await client.post(path, data={"csrf": "forged", "sample_code": "M-1"})
        assert r.status_code == 403
    assert [r for r in services.requests if r.method == "POST"] == []


async def test_a_secretariat_officer_who_also_judges_sees_only_the_panels_they_sit_on(portal) -> None:
    """The secretariat reads every round's panel: /hoi-dong lists only those naming the person (it was a 500)."""
    client, services = portal
    r = await client.get("/hoi-dong")
    assert r.status_code == 200, r.text
    assert services.sent("GET", f"/rounds/{ROUND_ID}/panel")  # asked, and not theirs
    assert "Thành viên 1" not in r.text and ROUND_ID not in r.text
