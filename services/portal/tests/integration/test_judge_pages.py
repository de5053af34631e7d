"""The council's pages over HTTP, as a browser without scripts sees them, against intake and scoring on the real
broker and store: the score sheet laid out from the rulebook, scoring's refusals by their fields, amendments with
a reason, the chair's closing (and re-scoring when the totals are too far apart), the approver's refusals."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .council_stack import CHAIR, FULL, MEMBERS, Stack, council_stack, csrf, signed_in

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def stack(infra: Any, dev_keys: tuple[Path, Path]) -> Iterator[Stack]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BINHCHON_DEV_KEYS", str(dev_keys[0].parent))  # the dev sign-in mints with the test's key
        with council_stack(infra, uuid.uuid4().hex[:10], dev_keys) as found:
            found.open_round("BG1", "Hội đồng OCOP tỉnh Bắc Giang", CHAIR, MEMBERS)
            yield found


def field_error(page: str, code: str) -> str:
    found = re.search(rf'<p class="field-error" id="err-{re.escape(code)}"[^>]*>([^<]*)</p>', page)
    assert found, f"no error slot beside {code}"
    return found[1].strip()


def sheet_form(page: str, scores: dict[str, float], **more: str) -> dict[str, str]:
    return {"csrf": csrf(page), **{f"c-{k}": f"{v:g}" for k, v in scores.items()}, **more}


def test_the_sheet_is_the_rulebooks_and_scorings_refusals_sit_by_their_fields(stack: Stack) -> None:
    dossier = stack.accepted_dossier(stack.rounds["BG1"], "Mật ong rừng Lục Nam", "TP-01")
    judge = signed_in(stack.portal, "cm-2", "judge")
    page = judge.get(f"/hoi-dong/ho-so/{dossier}")
    assert page.status_code == 200
    html = page.text
    assert "Phần A: Sản phẩm và sức mạnh cộng đồng (tối đa 40,00 điểm)" in html
    assert re.findall(r'name="c-C3" value="([^"]+)"', html) == ["0", "3", "5"]  # radios: the allowed points
    assert '<label for="c-B1">B1.' in html and '<select id="c-B1" name="c-B1"' in html  # 0..10 in halves
    assert '<script src="/static/judge_sheet.js" defer></script>' in html
    assert page.headers["content-security-policy"].startswith("default-src 'none'")

    # C3 allows 0, 3 or 5: a 4 posted past the radios is refused by scoring and shown beside C3 only
    r = judge.post(f"/hoi-dong/ho-so/{dossier}/phieu-cham", data=sheet_form(html, {**FULL, "C3": 4}))
    assert r.status_code == 422
    assert field_error(r.text, "C3") == ("Điểm 4,00 không được phép cho tiêu chí này. Các mức được phép: 0,00; "
                                         "3,00; 5,00.")
    assert [field_error(r.text, c) for c in FULL if c != "C3"] == [""] * (len(FULL) - 1)
    # a criterion left out: "missing", beside it
    partial = dict(FULL)
    del partial["A2"]
    r = judge.post(f"/hoi-dong/ho-so/{dossier}/phieu-cham", data=sheet_form(html, partial))
    assert r.status_code == 422 and field_error(r.text, "A2") == "Chưa chấm tiêu chí này: hãy chọn một mức điểm."
    # without this session's CSRF token nothing is sent
    r = judge.post(f"/hoi-dong/ho-so/{dossier}/phieu-cham", data={**sheet_form(html, FULL), "csrf": "khac"})
    assert r.status_code == 403

    r = judge.post(f"/hoi-dong/ho-so/{dossier}/phieu-cham", data=sheet_form(html, FULL))
    assert r.status_code == 303
    page = judge.get(f"/hoi-dong/ho-so/{dossier}").text
    assert "Đã nộp phiếu chấm: tổng 100,00 điểm." in page
    assert "Sửa phiếu chấm" in page and 'value="5" required checked' in page  # the sheet, ready to amend
    # an amendment needs its reason
    r = judge.post(f"/hoi-dong/ho-so/{dossier}/phieu-cham", data=sheet_form(page, {**FULL, "A1": 3}))
    assert r.status_code == 422 and field_error(r.text, "reason") == "Hãy ghi lý do sửa phiếu chấm."
    r = judge.post(f"/hoi-dong/ho-so/{dossier}/phieu-cham",
                   data=sheet_form(page, {**FULL, "A1": 3}, reason="Nhầm điểm nguồn nguyên liệu"))
    assert r.status_code == 303
    page = judge.get(f"/hoi-dong/ho-so/{dossier}").text
    assert "Đã sửa phiếu chấm: tổng 98,00 điểm." in page
    with stack.client("scoring", "cm-2", "judge") as scoring:
        sheets = scoring.get(f"/dossiers/{dossier}/score-sheets").json()["sheets"]
    assert [(s["kind"], s["total"]) for s in sheets] == [("score.submitted", 100), ("score.amended", 98)]


def test_the_chair_closes_and_totals_too_far_apart_are_scored_again(stack: Stack) -> None:
    dossier = stack.accepted_dossier(stack.rounds["BG1"], "Chè Tân Cương", "TP-02")
    low = {**FULL, "B1": 0, "C1": 0, "C4": 0}  # 70: 30 points under the others, the threshold is 10
    for member, scores in ((CHAIR, FULL), ("cm-2", FULL), ("cm-3", low), ("cm-4", FULL)):
        stack.score(dossier, member, scores, role="council_chair" if member == CHAIR else "judge")
    member = signed_in(stack.portal, "cm-3", "judge")
    assert "Kết thúc chấm điểm" not in member.get(f"/hoi-dong/ho-so/{dossier}").text  # the chair's only
    chair = signed_in(stack.portal, CHAIR, "council_chair")
    page = chair.get(f"/hoi-dong/ho-so/{dossier}").text
    r = chair.post(f"/hoi-dong/ho-so/{dossier}/ket-thuc", data={"csrf": csrf(page)})
    assert r.status_code == 303
    page = chair.get(f"/hoi-dong/ho-so/{dossier}").text
    assert "chênh lệch quá ngưỡng cho phép: hồ sơ được chấm lại" in page
    assert "Tổng điểm của các thành viên chênh lệch quá 10,00 điểm" in page and "chấm lại lần 1" in page
    assert "Chấm điểm</h2>" in page and "70,00" not in page  # a new sheet to fill; no one's marks shown


def test_an_approver_of_another_authority_is_refused_in_vietnamese(stack: Stack) -> None:
    dossier = stack.accepted_dossier(stack.rounds["BG1"], "Bánh đa Kế", "TP-03")
    for member in (CHAIR, "cm-2", "cm-3", "cm-4"):
        stack.score(dossier, member, FULL, role="council_chair" if member == CHAIR else "judge")
    chair = signed_in(stack.portal, CHAIR, "council_chair")
    page = chair.get(f"/hoi-dong/ho-so/{dossier}").text
    assert chair.post(f"/hoi-dong/ho-so/{dossier}/ket-thuc", data={"csrf": csrf(page)}).status_code == 303
    assert "Đã kết thúc chấm điểm: điểm trung bình 100,00" in chair.get(f"/hoi-dong/ho-so/{dossier}").text
    page = chair.get(f"/hoi-dong/dot/{stack.rounds['BG1']}").text
    r = chair.post(f"/hoi-dong/dot/{stack.rounds['BG1']}/de-nghi", data={"csrf": csrf(page)})
    assert r.status_code == 303
    proposal_path = r.headers["location"]

    other = signed_in(stack.portal, "ubnd-hn", "approver", authority="province:01")
    page = other.get(proposal_path).text
    assert "Bánh đa Kế" in page and "100,00" in page
    decision = {"csrf": csrf(page), "number": "12/QĐ-UBND", "day": "20/12/2026", "signer": "Nguyễn Văn A",
                "dossier": dossier}
    r = other.post(f"{proposal_path}/phe-duyet", data={**decision, "day": "2026-12-20"})
    assert r.status_code == 422
    assert field_error(r.text, "day") == "Ngày quyết định ghi theo dạng ngày/tháng/năm, ví dụ 20/12/2026."
    r = other.post(f"{proposal_path}/phe-duyet", data=decision)
    assert r.status_code == 403
    assert "Kết quả của đợt này do UBND tỉnh Bắc Giang quyết định" in r.text
    with stack.client("scoring", "to-giup-viec", "secretariat") as scoring:
        assert scoring.get(f"/dossiers/{dossier}").json()["status"] == "completed"  # nothing decided
