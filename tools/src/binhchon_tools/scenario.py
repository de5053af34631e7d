"""A realistic season of OCOP rating loaded into a running stack: `make demo` (after `make up`).

    uv run binhchon-scenario [--intake URL] [--scoring URL] [--certification URL]
                             [--mail-dir .run/local/mail/new | --mailpit URL]

Bắc Giang's 2026 OCOP season at two levels, and its selection of typical rural industrial products (CNNTTB):
two district rounds (Lục Ngạn, Lục Nam) under the province round,
itself under the national round. Twenty-two producers file dossiers at the district one-stop shops; the
secretariat accepts most, asks one for a missing document (then accepts what comes), rejects one, and one
producer withdraws. Each district council (a chair and four members) scores its dossiers, the chair proposes and
the district People's Committee decides: 3-star products are recognised by the district, 4- and 5-star ones go
up. Intake opens them in the province round, the province council scores them, the province decides: 4 stars
recognised, 5 stars go up to the national round. Certification signs a certificate for every recognised product
and notify tells the producers. On each round's first dossier one council member is recused and another amends
a sheet with a reason. The province's CNNTTB council scores four products against its pass mark.

It then prints what the people concerned see: dossiers by status, results by rating, the certificates with
their public verification links, and the mails sent. Tokens are minted from the local dev key.
"""

from __future__ import annotations

import argparse
import email
import email.policy
import re
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from binhchon_kit.auth.devtoken import ensure_keys
from binhchon_kit.testing.documents import listed, sample_pdf, upload_documents_sync
from binhchon_kit.testing.samples import dossier_body, round_body
from binhchon_kit.vietnam_time import today_in_vietnam
from binhchon_tools.demo import Refused, auth_with, ok, poll


@dataclass(frozen=True)
class Producer:
    name: str
    kind: str
    commune: str
    person: str
    product: str
    group: str
    target: int  # the council's mean total this product is scored around
    fate: str = "accepted"  # or "supplement", "rejected", "withdrawn"


DISTRICTS = {
    ("219", "Huyện Lục Ngạn"): [
        Producer("Hợp tác xã Vải thiều Thanh Hà", "cooperative", "Xã Thanh Hải", "Nguyễn Văn Thành",
                 "Vải thiều sấy khô Thanh Hà", "thực phẩm", 93),
        Producer("Công ty TNHH Nông sản Lục Ngạn", "enterprise", "Thị trấn Chũ", "Trần Thị Hương",
                 "Nước ép vải thiều Lục Ngạn", "đồ uống", 81),
        Producer("Hợp tác xã Cam Bố Hạ Biển Động", "cooperative", "Xã Biển Động", "Hoàng Văn Lực",
                 "Cam đường Canh Biển Động", "thực phẩm", 74),
        Producer("Hộ kinh doanh Lương Thị Mai", "household", "Xã Phượng Sơn", "Lương Thị Mai",
                 "Mật ong hoa vải Phượng Sơn", "thực phẩm", 66),
        Producer("Hợp tác xã Gạo nếp cái hoa vàng Tân Hoa", "cooperative", "Xã Tân Hoa", "Vi Văn Cường",
                 "Gạo nếp cái hoa vàng Tân Hoa", "thực phẩm", 61),
        Producer("Hợp tác xã Dược liệu Sơn Hải", "cooperative", "Xã Sơn Hải", "Đặng Thị Lan",
                 "Trà hoa vàng Sơn Hải", "dược liệu", 57),
        Producer("Hộ kinh doanh Chu Văn Bình", "household", "Xã Hồng Giang", "Chu Văn Bình",
                 "Rượu men lá Hồng Giang", "đồ uống", 53, "supplement"),
        Producer("Hợp tác xã Mây tre đan Kiên Lao", "cooperative", "Xã Kiên Lao", "Lý Thị Hoa",
                 "Giỏ mây tre đan Kiên Lao", "hàng thủ công mỹ nghệ", 46),
        Producer("Hộ kinh doanh Nông Văn Tiến", "household", "Xã Kim Sơn", "Nông Văn Tiến",
                 "Măng khô Kim Sơn", "thực phẩm", 60, "rejected"),
        Producer("Hợp tác xã Chè Xa Lý", "cooperative", "Xã Phong Minh", "Hà Thị Thu",
                 "Chè shan tuyết Xa Lý", "đồ uống", 70, "withdrawn"),
        Producer("Hợp tác xã Thanh long ruột đỏ Quý Sơn", "cooperative", "Xã Quý Sơn", "Phạm Văn Hòa",
                 "Thanh long ruột đỏ Quý Sơn", "thực phẩm", 58),
    ],
    ("220", "Huyện Lục Nam"): [
        Producer("Hợp tác xã Nông nghiệp Đông Hưng", "cooperative", "Xã Đông Hưng", "Nguyễn Văn Đức",
                 "Mật ong rừng Lục Nam", "thực phẩm", 91),
        Producer("Công ty Cổ phần Rượu Làng Vân", "enterprise", "Xã Vân Hà", "Đỗ Văn Vân",
                 "Rượu làng Vân", "đồ uống", 85),
        Producer("Hợp tác xã Bánh đa Kế", "cooperative", "Xã Tam Dị", "Ngô Thị Kế",
                 "Bánh đa Kế", "thực phẩm", 76),
        Producer("Hợp tác xã Na dai Huyền Sơn", "cooperative", "Xã Huyền Sơn", "Dương Văn Sơn",
                 "Na dai Huyền Sơn", "thực phẩm", 72),
        Producer("Hộ kinh doanh Vũ Thị Nga", "household", "Xã Cẩm Lý", "Vũ Thị Nga",
                 "Miến dong Cẩm Lý", "thực phẩm", 68),
        Producer("Hợp tác xã Dược liệu Lục Sơn", "cooperative", "Xã Lục Sơn", "Lăng Văn Khoa",
                 "Cao lá xạ đen Lục Sơn", "dược liệu", 63),
        Producer("Hợp tác xã Chè Bảo Sơn", "cooperative", "Xã Bảo Sơn", "Phùng Thị Yến",
                 "Chè xanh Bảo Sơn", "đồ uống", 59),
        Producer("Hộ kinh doanh Tạ Văn Hùng", "household", "Xã Nghĩa Phương", "Tạ Văn Hùng",
                 "Gà đồi thả vườn Nghĩa Phương", "thực phẩm", 55),
        Producer("Hợp tác xã Gốm Thổ Hà Lục Nam", "cooperative", "Xã Yên Sơn", "Kiều Văn Tú",
                 "Bình gốm men lam Yên Sơn", "hàng thủ công mỹ nghệ", 52),
        Producer("Hộ kinh doanh Mẫn Thị Thu", "household", "Xã Đan Hội", "Mẫn Thị Thu",
                 "Tương nếp Đan Hội", "thực phẩm", 44),
        Producer("Hợp tác xã Cây cảnh Bắc Lũng", "cooperative", "Xã Bắc Lũng", "Giáp Văn Lũng",
                 "Bonsai sam hương Bắc Lũng", "sinh vật cảnh", 62),
    ],
}
MANDATORY = {"B4": 5, "C3": 5, "C4": 10, "C5": 5}  # kept at the top: every mandatory criterion met
# lowered first to reach a target total: the criteria that are not mandatory, in this order
LOWERED = ["A8", "B1", "C1", "A1", "A3", "A4", "A5", "A6", "A7", "B2", "B3", "C2", "A2"]


def sheet(full: dict[str, int], target: int, lowered: list[str] | None = None) -> dict[str, int]:
    """Scores adding up to ``target``: every criterion at its maximum, then lowered in ``lowered``'s order (by
    default OCOP's criteria that are not mandatory; a CNNTTB sheet has no mandatory criterion: all of them)."""
    scores = dict(full)
    excess = sum(scores.values()) - target
    for code in lowered if lowered is not None else LOWERED:
        cut = min(excess, scores[code])
        scores[code] -= cut
        excess -= cut
    if excess:
        raise ValueError(f"{target} is below what the mandatory criteria keep")
    return scores


QUALITY_STANDARD = sample_pdf("Ban cong bo tieu chuan chat luong san pham")


def producer_body(p: Producer, district: tuple[str, str], n: int, run: str) -> dict[str, Any]:
    code, name = district
    body = dossier_body(product=p.product, regno=f"24{code}{n:05d}")
    body["producer"].update({
        "kind": p.kind, "name": p.name,
        "address": {"street": f"Thôn {n}", "commune": p.commune, "district": name, "district_code": code,
                    "province": "Tỉnh Bắc Giang", "province_code": "24"},
        "contact": {"person": p.person, "phone": f"0912 {code} {n:03d}",
                    "email": f"ocop.{run.lower()}.{code}.{n:02d}@example.vn"}})
    body["product"].update({"name": p.product, "product_group": p.group, "description": p.product})
    return body


class Season:
    def __init__(self, intake: httpx.Client, scoring: httpx.Client, run: str, private_key: bytes | None = None
                 ) -> None:
        """``private_key`` signs the tokens (default: the local dev key the stack of `make up` trusts)."""
        self.intake, self.scoring, self.run = intake, scoring, run
        self.auth = auth_with(private_key or ensure_keys()[0].read_bytes())
        self.sec = self.auth("thuky-bacgiang", "secretariat")
        self.targets: dict[str, int] = {}  # dossier → target total
        self.groups: dict[str, str] = {}  # dossier → product group
        self.rounds: dict[str, str] = {}  # round name → id

    def open_rounds(self) -> None:
        # the sample dossier's documents (stored once, by content): every producer's dossier lists them (ADR 0045)
        upload_documents_sync(self.intake, self.auth("producer-documents", "applicant"))

        def opened(code: str, **over: Any) -> str:
            return str(ok(self.intake.post("/rounds", headers=self.sec, json=round_body(
                f"{code}-{self.run}", rulebook_id="ocop-2023", **over)))["round_id"])

        self.rounds["Trung ương"] = opened("OCOP-TW", level="national", area={},
                                           title="Đánh giá, phân hạng sản phẩm OCOP cấp quốc gia năm 2026",
                                           organiser="Bộ Nông nghiệp và Môi trường")
        self.rounds["Tỉnh Bắc Giang"] = opened(
            "OCOP-BG", level="province", parent_round_id=self.rounds["Trung ương"],
            title="Đánh giá, phân hạng sản phẩm OCOP tỉnh Bắc Giang năm 2026")
        for code, name in DISTRICTS:
            self.rounds[name] = opened(
                f"OCOP-{code}", level="district", parent_round_id=self.rounds["Tỉnh Bắc Giang"],
                area={"province_code": "24", "district_code": code}, organiser=f"UBND {name.lower()}",
                title=f"Đánh giá, phân hạng sản phẩm OCOP {name.lower()} năm 2026")

    def form_panel(self, round_name: str, who: str) -> list[str]:
        members = [f"{who}-{k}" for k in range(1, 6)]
        body = {"name": f"Hội đồng đánh giá, phân hạng sản phẩm OCOP {round_name}",
                "members": [{"id": m, "name": f"Thành viên hội đồng {k}", "organisation": f"UBND {round_name}",
                             "role": "chair" if k == 1 else "member"} for k, m in enumerate(members, start=1)],
                "quorum": {"fraction": 0.75, "chair_required": True}, "sessions": ["dossier", "samples"]}

        def formed() -> Any:
            r = self.scoring.post(f"/rounds/{self.rounds[round_name]}/panel", headers=self.sec, json=body)
            return None if r.status_code == 409 and "has not heard of round" in r.text else ok(r)

        poll(f"scoring to hear of the {round_name} round", formed)
        return members

    def file_dossiers(self, district: tuple[str, str]) -> None:
        round_id = self.rounds[district[1]]
        for n, p in enumerate(DISTRICTS[district], start=1):
            producer = self.auth(f"producer-{district[0]}-{n}", "applicant")
            receipt = ok(self.intake.post(f"/rounds/{round_id}/dossiers", headers=producer,
                                          json=producer_body(p, district, n, self.run)))
            dossier = receipt["dossier_id"]
            if p.fate == "rejected":
                ok(self.intake.post(f"/dossiers/{dossier}/reject", headers=self.sec, json={
                    "reason": "Sản phẩm chưa có giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm"}))
                continue
            if p.fate == "withdrawn":
                ok(self.intake.post(f"/dossiers/{dossier}/withdraw", headers=producer,
                                    json={"reason": "Chủ thể xin rút để hoàn thiện bao bì, đăng ký năm sau"}))
                continue
            if p.fate == "supplement":
                ok(self.intake.post(f"/dossiers/{dossier}/supplement-request", headers=self.sec, json={
                    "items": [{"document_kind": "quality_standard",
                               "description": "Bản công bố tiêu chuẩn chất lượng sản phẩm"}],
                    "reason": "Hồ sơ thiếu bản công bố tiêu chuẩn chất lượng"}))
                upload_documents_sync(self.intake, producer, [("cong-bo-chat-luong.pdf", QUALITY_STANDARD)])
                ok(self.intake.post(f"/dossiers/{dossier}/supplements", headers=producer, json={
                    "documents": [listed("quality_standard", "cong-bo-chat-luong.pdf", QUALITY_STANDARD)],
                    "note": "Bổ sung bản công bố tiêu chuẩn chất lượng"}))
            self.accept(dossier, p.group, f"{district[0]}-{n:02d}")
            self.targets[dossier], self.groups[dossier] = p.target, p.group

    def accept(self, dossier: str, group: str, sample: str) -> None:
        ok(self.intake.post(f"/dossiers/{dossier}/accept", headers=self.sec,
                            json={"product_group": group, "sample_code": f"OCOP-{sample}"}))

    def score_round(self, round_name: str, members: list[str], dossiers: list[str],
                    rulebook_id: str = "ocop-2023") -> None:
        """Every member scores every dossier, a point or two apart. On the round's first dossier the last member
        declares a conflict of interest and is recused, and the second member amends a sheet with a reason."""
        round_id = self.rounds[round_name]
        poll(f"scoring to open the {len(dossiers)} dossiers of {round_name}", lambda: len(ok(self.scoring.get(
            f"/rounds/{round_id}/dossiers", headers=self.sec, params={"limit": 100}))["items"]) >= len(dossiers))
        rulebook = ok(self.scoring.get(f"/rulebooks/{rulebook_id}"))
        full = {c["code"]: c["maximum"] for c in rulebook["sheets"][0]["criteria"]}
        lowered = None if rulebook["programme"] == "OCOP" else sorted(full)
        recused = members[-1]
        ok(self.scoring.post(f"/dossiers/{dossiers[0]}/recusal", headers=self.auth(recused, "judge"),
                             json={"reason": "Người thân của thành viên hợp tác xã"}))
        for n, dossier in enumerate(dossiers):
            for k, member in enumerate(members):
                if n == 0 and member == recused:
                    continue
                headers = self.auth(member, "council_chair" if k == 0 else "judge")
                total = self.targets[dossier] + (k % 3) - 1  # members differ by a point or two
                ok(self.scoring.post(f"/dossiers/{dossier}/score-sheets", headers=headers,
                                     json={"scores": sheet(full, total + (1 if n == 0 and k == 1 else 0), lowered)}))
                if n == 0 and k == 1:
                    ok(self.scoring.post(f"/dossiers/{dossier}/score-sheets/amendment", headers=headers, json={
                        "scores": sheet(full, total, lowered), "reason": "Nhầm điểm khi cộng phần A"}))

    def decide(self, round_name: str, chair: str, authority: str, authority_id: str) -> list[dict[str, Any]]:
        """The round's approving authority decides (its approver acts for ``authority_id`` only, ADR 0029)."""
        round_id = self.rounds[round_name]
        proposal = ok(self.scoring.post(f"/rounds/{round_id}/proposals", headers=self.auth(chair, "council_chair")))
        approver = self.auth(f"ubnd-{chair}", "approver", authorities=(authority_id,))
        decided: list[dict[str, Any]] = ok(self.scoring.post(
            f"/proposals/{proposal['proposal_id']}/approval", headers=approver,
            json={"decision": {"number": f"{self.run}-{len(self.rounds)}/QĐ-UBND",
                               "date": today_in_vietnam().isoformat(), "signer": "Phó Chủ tịch UBND",
                               "authority": authority}}))
        return decided

    def cnnttb_round(self) -> list[dict[str, Any]]:
        """The province's selection of typical rural industrial products: four dossiers, one below the pass mark."""
        name = "CNNTTB Bắc Giang"
        self.rounds[name] = str(ok(self.intake.post("/rounds", headers=self.sec, json=round_body(
            f"CNNTTB-BG-{self.run}", programme="CNNTTB", rulebook_id="cnnttb-2025",
            title="Bình chọn sản phẩm công nghiệp nông thôn tiêu biểu tỉnh Bắc Giang năm 2026",
            organiser="Sở Công Thương tỉnh Bắc Giang", approving_authority="UBND tỉnh Bắc Giang")))["round_id"])
        members = self.form_panel(name, "hd-cnnt")
        entries = [("Cơ sở Mây tre đan Tăng Tiến", "Khay mây đan Tăng Tiến", "thủ công mỹ nghệ", 84),
                   ("Công ty TNHH Gốm Thổ Hà", "Bình gốm Thổ Hà", "thủ công mỹ nghệ", 78),
                   ("Hợp tác xã Mỳ Chũ", "Mỳ Chũ Nam Dương", "chế biến nông, lâm, thủy sản và thực phẩm", 73),
                   ("Cơ sở Rèn Đa Mai", "Dao rèn Đa Mai", "thiết bị, máy móc, dụng cụ và phụ tùng cơ khí", 64)]
        dossiers = []
        for n, (producer, product, group, target) in enumerate(entries, start=1):
            body = producer_body(Producer(producer, "enterprise", "Xã Tăng Tiến", "Nguyễn Văn Nam", product, group,
                                          target), ("221", "Huyện Việt Yên"), 60 + n, self.run)
            receipt = ok(self.intake.post(f"/rounds/{self.rounds[name]}/dossiers", json=body,
                                          headers=self.auth(f"producer-cnnt-{n}", "applicant")))
            self.accept(receipt["dossier_id"], group, f"CNNT-{n:02d}")
            self.targets[receipt["dossier_id"]] = target
            dossiers.append(receipt["dossier_id"])
        self.score_round(name, members, dossiers, rulebook_id="cnnttb-2025")
        return self.decide(name, members[0], "UBND tỉnh Bắc Giang", "province:24")

    def escalated(self, count: int) -> list[str]:
        province = self.rounds["Tỉnh Bắc Giang"]

        def arrived() -> list[dict[str, Any]] | None:
            items = ok(self.intake.get("/dossiers", headers=self.sec,
                                       params={"round_id": province, "limit": 100}))["items"]
            return items if len(items) >= count else None

        items: list[dict[str, Any]] = poll(f"intake to open {count} dossiers in the province round", arrived)
        for n, item in enumerate(items, start=1):
            origin = item["escalated_from"]["dossier_id"]
            self.targets[item["dossier_id"]] = self.targets[origin]
            self.accept(item["dossier_id"], self.groups[origin], f"24-{n:02d}")
        return [item["dossier_id"] for item in items]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intake", default="http://127.0.0.1:8001")
    parser.add_argument("--scoring", default="http://127.0.0.1:8002")
    parser.add_argument("--certification", default="http://127.0.0.1:8003")
    mail = parser.add_mutually_exclusive_group()
    mail.add_argument("--mail-dir", type=Path, default=Path(".run/local/mail/new"),
                      help="where `make up`'s mail catcher keeps messages (default)")
    mail.add_argument("--mailpit", help="mailpit's HTTP address (compose)")
    args = parser.parse_args(argv)
    run = uuid.uuid4().hex[:4].upper()
    try:
        with httpx.Client(base_url=args.intake, timeout=60) as intake, \
                httpx.Client(base_url=args.scoring, timeout=60) as scoring, \
                httpx.Client(base_url=args.certification, timeout=60) as certification:
            season = Season(intake, scoring, run)
            report = play(season)
            show(season, certification, report, args)
    except (Refused, httpx.TransportError) as failure:
        sys.exit(f"binhchon-scenario: {failure} (is the stack running? `make up`)")
    return 0


def play(season: Season) -> dict[str, list[dict[str, Any]]]:
    season.open_rounds()
    decisions: dict[str, list[dict[str, Any]]] = {}
    for district in DISTRICTS:
        members = season.form_panel(district[1], f"hd-{district[0]}")
        before = set(season.targets)
        season.file_dossiers(district)
        season.score_round(district[1], members, sorted(set(season.targets) - before))
        decisions[district[1]] = season.decide(district[1], members[0], f"UBND {district[1].lower()}",
                                                f"district:{district[0]}")
        print(f"[scenario] {district[1]}: {len(decisions[district[1]])} results decided", file=sys.stderr)
    forwarded = sum(d["type"] == "result.approved" and bool(d.get("goes_up_a_level")) for ds in decisions.values()
                    for d in ds)
    members = season.form_panel("Tỉnh Bắc Giang", "hd-24")
    province_dossiers = season.escalated(forwarded)
    season.score_round("Tỉnh Bắc Giang", members, province_dossiers)
    decisions["Tỉnh Bắc Giang"] = season.decide("Tỉnh Bắc Giang", members[0], "UBND tỉnh Bắc Giang",
                                                   "province:24")
    decisions["CNNTTB Bắc Giang"] = season.cnnttb_round()
    return decisions


def show(season: Season, certification: httpx.Client, decisions: dict[str, list[dict[str, Any]]],
         args: argparse.Namespace) -> None:
    print(f"\nBắc Giang, OCOP 2026 (run {season.run})\n")
    print("Dossiers by status")
    for name, round_id in season.rounds.items():
        items = ok(season.intake.get("/dossiers", headers=season.sec,
                                     params={"round_id": round_id, "limit": 100}))["items"]
        counts = Counter(i["status"] for i in items)
        print(f"  {name:18} {len(items):3}  " + ", ".join(f"{s} {c}" for s, c in sorted(counts.items())))
    print("\nResults by rating")
    for name, results in decisions.items():
        ratings = Counter(r.get("rating", {}).get("label") or r.get("rating_label") or "?" for r in results)
        up = sum(bool(r.get("goes_up_a_level")) for r in results)
        print(f"  {name:18} " + ", ".join(f"{label} {c}" for label, c in sorted(ratings.items()))
              + f"; certified here {sum(map(certified, results))}, going up {up}")
    print("\nCertificates")
    staff = season.auth("thuky-bacgiang", "secretariat")
    recognised = {name: sum(map(certified, results)) for name, results in decisions.items()}
    for name, round_id in season.rounds.items():
        def issued(round_id: str = round_id, expected: int = recognised.get(name, 0)) -> Any:
            page = ok(certification.get("/certificates", headers=staff, params={"round_id": round_id, "limit": 100}))
            return page["items"] if len(page["items"]) >= expected else None

        for cert in poll(f"the certificates of {name}", issued, 120) if recognised.get(name) else []:
            print(f"  {cert['number']:28} {cert.get('rating_label', ''):7} {cert.get('product_name', '')}"
                  f"\n  {'':28} {certification.base_url.join('/verify/' + cert['number'])}")
    print("\nMails sent")
    subjects = settled(lambda: mail_subjects(args, f"ocop.{season.run.lower()}."))
    for kind, count in Counter(mail_kind(s) for s in subjects).most_common():
        print(f"  {count:4}  {kind}")
    print(f"  {len(subjects):4}  in all")


def certified(result: dict[str, Any]) -> bool:
    """Whether an approved result earns a certificate at its own level: an OCOP rating the level recognises
    (not one it sends up), a CNNTTB pass (the province certifies it and also puts it forward to the region)."""
    return result.get("type") == "result.approved" and (
        result.get("programme") == "CNNTTB" or not result.get("goes_up_a_level"))


def settled(count: Any, quiet: float = 5, seconds: float = 90) -> list[str]:
    """What ``count`` returns once it has stopped growing for ``quiet`` seconds: notify sends after the events
    that cause the mails, so the last ones arrive a little after the last certificate."""
    deadline, last, since = time.monotonic() + seconds, None, time.monotonic()
    while True:
        found: list[str] = count()
        if last is None or len(found) != len(last):
            last, since = found, time.monotonic()
        if time.monotonic() - since >= quiet or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def mail_kind(subject: str) -> str:
    """A subject without what differs from one dossier to the next: the round, numbers, the product."""
    subject = re.sub(r"\[[^]]*\]\s*", "", subject)
    subject = re.sub(r'"[^"]*"', "…", subject)
    return re.sub(r"\s*(số\s+)?[A-Z0-9][A-Z0-9.-]*\d[A-Z0-9.-]*", " …", subject).strip()


def mail_subjects(args: argparse.Namespace, recipients: str) -> list[str]:
    """This season's producers' mails (their addresses start with ``recipients``), subjects as a mail client
    decodes them: from mailpit's raw messages, or the local catcher's files."""
    if args.mailpit:
        with httpx.Client(base_url=args.mailpit, timeout=30) as catcher:
            found = catcher.get("/api/v1/messages", params={"limit": 5000}).json().get("messages", [])
            raws = [catcher.get(f"/api/v1/message/{m['ID']}/raw").content for m in found]
    else:
        raws = [p.read_bytes() for p in sorted(args.mail_dir.glob("*"))] if args.mail_dir.exists() else []
    mails = [email.message_from_bytes(raw, policy=email.policy.default) for raw in raws]
    return [str(m["subject"]) for m in mails if recipients in str(m["to"])]


if __name__ == "__main__":
    raise SystemExit(main())
