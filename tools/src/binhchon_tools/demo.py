"""A whole OCOP provincial round against a running stack (`make up`), step by step, over HTTP.

    uv run binhchon-demo [--intake http://127.0.0.1:8001] [--scoring http://127.0.0.1:8002]
                         [--certification http://127.0.0.1:8003]

Opens a national and a provincial round, submits and accepts three dossiers, forms a 7-member council,
scores (one member recused from one dossier, one sheet amended), proposes, approves, and shows intake
escalating the 5-star product to the national round; with --certification, the 4-star product's certificate
and its public verification page. Tokens are minted from the local dev key. The compose test
(infra/compose/tests) plays the same round through a deployment's published ports.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from binhchon_kit.auth.devtoken import ensure_keys, mint
from binhchon_kit.testing.documents import upload_documents_sync
from binhchon_kit.testing.samples import dossier_body, round_body
from binhchon_kit.vietnam_time import today_in_vietnam

PRODUCTS = {  # product → (base sheet changes per member 1..7); every criterion at its maximum unless lowered
    "Mật ong rừng Lục Nam": [{"C1": 10 - k} for k in range(7)],
    "Chè Tân Cương": [{"A8": 4 - k % 2, "B1": 8, "C4": 6, "C5": 2} for k in range(7)],
    "Bánh đa Kế": [{"C4": 4, "C5": 1, "B1": 6, "A8": 3} for _ in range(7)],
}


def step(title: str, payload: Any = None) -> None:
    print(f"\n== {title}")
    if payload is not None:
        print(json.dumps(payload, ensure_ascii=False, indent=1)[:1500])


class Refused(Exception):
    """A call of the round answered an error: the method, the address, the status and the body."""


@dataclass
class Round:
    """What a played round left: its ids, and the certificates issued for it (filled by ``certificates``)."""

    national: str
    province: str
    dossiers: dict[str, str]
    decisions: list[dict[str, Any]]
    certificates: list[dict[str, Any]] = field(default_factory=list)


def ok(r: httpx.Response) -> Any:
    if r.status_code >= 400:
        raise Refused(f"{r.request.method} {r.request.url} → {r.status_code}: {r.text}")
    return r.json()


def auth_with(private: bytes) -> Callable[..., dict[str, str]]:
    def auth(subject: str, *roles: str, authorities: tuple[str, ...] = ()) -> dict[str, str]:
        token = mint(private, subject=subject, roles=list(roles), authorities=list(authorities))
        return {"Authorization": f"Bearer {token}"}
    return auth


def poll(what: str, probe: Callable[[], Any], seconds: float = 60) -> Any:
    """The first truthy answer of ``probe`` within ``seconds``; events cross services asynchronously. A service
    that does not answer (restarting after a crash, say) is asked again until the time is up."""
    deadline = time.monotonic() + seconds
    why = "no answer yet"
    while True:
        try:
            answer = probe()
        except httpx.TransportError as exc:
            answer, why = None, f"{type(exc).__name__}: {exc}"
        if answer:
            return answer
        if time.monotonic() > deadline:
            raise Refused(f"waited {seconds:.0f} s for {what} ({why})")
        time.sleep(0.2)


def play_round(intake: httpx.Client, scoring: httpx.Client, auth: Callable[..., dict[str, str]], run: str,
               before_approval: Callable[[], None] | None = None) -> Round:
    """The whole provincial round, up to the authority's decision and intake's escalation."""
    sec = auth("thuky-1", "secretariat")
    national = ok(intake.post("/rounds", headers=sec, json=round_body(
        f"OCOP-TW-{run}", level="national", rulebook_id="ocop-2023",
        title="Đánh giá, phân hạng sản phẩm OCOP cấp quốc gia")))
    province = ok(intake.post("/rounds", headers=sec, json=round_body(
        f"OCOP-BG-{run}", level="province", rulebook_id="ocop-2023", parent_round_id=national["round_id"])))
    round_id = province["round_id"]
    step("rounds opened", {"national": national["round_id"], "province": round_id})
    members = [{"id": f"cm-{k}", "name": f"Thành viên hội đồng {k}", "organisation": "UBND tỉnh Bắc Giang",
                "role": "chair" if k == 1 else "member"} for k in range(1, 8)]
    panel = {"name": "Hội đồng đánh giá, phân hạng sản phẩm OCOP tỉnh", "members": members,
             "quorum": {"fraction": 0.75, "chair_required": True}, "sessions": ["dossier", "samples"]}

    def form_panel() -> Any:
        r = scoring.post(f"/rounds/{round_id}/panel", headers=sec, json=panel)
        # 409 until intake's round.opened has reached scoring through Kafka
        return None if r.status_code == 409 and "has not heard of round" in r.text else ok(r)

    poll("scoring to hear of the round from intake", form_panel)
    step("council formed: 7 members, quorum 3/4 with the chair, spread threshold 10 points")
    upload_documents_sync(intake, auth("htx-donghung", "applicant"))  # the files the dossiers list (ADR 0045)
    step("documents uploaded: the registration form and the business plan, stored by their SHA-256")
    ids = {}
    for n, product in enumerate(PRODUCTS):
        receipt = ok(intake.post(f"/rounds/{round_id}/dossiers", json=dossier_body(product=product),
                                 headers=auth("htx-donghung", "applicant")))
        ok(intake.post(f"/dossiers/{receipt['dossier_id']}/accept", headers=sec,
                       json={"product_group": "thực phẩm", "sample_code": f"TP-{n + 1:02d}"}))
        ids[product] = receipt["dossier_id"]
        step(f"received and accepted: {product}", receipt)
    poll("scoring to open the three accepted dossiers",
         lambda: len(ok(scoring.get(f"/rounds/{round_id}/dossiers", headers=sec))["items"]) == 3)
    rulebook = ok(scoring.get("/rulebooks/ocop-2023"))
    full = {c["code"]: c["maximum"] for c in rulebook["sheets"][0]["criteria"]}
    judge = {f"cm-{k}": auth(f"cm-{k}", "council_chair" if k == 1 else "judge") for k in range(1, 8)}
    honey = ids["Mật ong rừng Lục Nam"]
    ok(scoring.post(f"/dossiers/{honey}/recusal", headers=judge["cm-7"], json={"reason": "Người thân trong HTX"}))
    step("cm-7 declared a conflict of interest for the honey and is recused")
    for product, changes in PRODUCTS.items():
        for k, change in enumerate(changes, start=1):
            if product == "Mật ong rừng Lục Nam" and k == 7:
                continue
            ok(scoring.post(f"/dossiers/{ids[product]}/score-sheets", headers=judge[f"cm-{k}"],
                            json={"scores": {**full, **change}}))
            if product == "Mật ong rừng Lục Nam" and k == 2:
                ok(scoring.post(f"/dossiers/{honey}/score-sheets/amendment", headers=judge["cm-2"],
                                json={"scores": {**full, **change, "C1": 8}, "reason": "Nhầm điểm cảm quan"}))
                step("cm-2 amended their sheet with a reason (the first stays on record)")
    for product, dossier_id in ids.items():
        result = ok(scoring.get(f"/dossiers/{dossier_id}", headers=sec))["result"]
        step(f"scoring completed: {product}", {k: result[k] for k in (
            "average_total", "band_stars", "stars", "totals", "recognised_at_level", "goes_up_a_level")})
    proposal = ok(scoring.post(f"/rounds/{round_id}/proposals", headers=judge["cm-1"]))
    step("the chair proposed the results table", [
        {k: row[k] for k in ("rank", "product_name", "average_total", "rating_label")} for row in proposal["rows"]])
    csv = scoring.base_url.join(f"/proposals/{proposal['proposal_id']}.csv")
    print(f"   CSV: {csv}")
    if before_approval:
        before_approval()
    decisions = ok(scoring.post(f"/proposals/{proposal['proposal_id']}/approval", headers=auth(
                                    "ubnd", "approver", authorities=("province:24",)),
                                json={"decision": {"number": f"{run}/QĐ-UBND",
                                                   "date": today_in_vietnam().isoformat(),
                                                   "signer": "Phó Chủ tịch UBND tỉnh",
                                                   "authority": "UBND tỉnh Bắc Giang"}}))
    step("the authority decided", [{"type": d["type"], "product": d["product_name"]} for d in decisions])
    def national_page() -> Any:
        page = ok(intake.get("/dossiers", params={"round_id": national["round_id"], "total": "true"}, headers=sec))
        return page if page["total"] else None

    escalated = poll("intake to open the 5-star product in the national round", national_page)
    step("intake opened the 5-star product in the national round",
         [{k: d[k] for k in ("receipt_number", "escalated_from")} for d in escalated["items"]])
    return Round(national["round_id"], round_id, ids, decisions)


def certificates(certification: httpx.Client, auth: Callable[..., dict[str, str]], played: Round,
                 expected: int, seconds: float = 120) -> list[dict[str, Any]]:
    """The round's certificates once ``expected`` are issued, each checked on its public /verify page."""
    staff = auth("thuky-1", "secretariat")
    def issued() -> list[dict[str, Any]] | None:
        items = ok(certification.get("/certificates", params={"round_id": played.province}, headers=staff))["items"]
        return items if len(items) >= expected else None

    page: list[dict[str, Any]] = poll(f"{expected} certificate(s) of round {played.province}", issued, seconds)
    for item in page:
        r = certification.get(f"/verify/{item['number']}")
        if r.status_code != 200 or item["number"] not in r.text:
            raise Refused(f"/verify/{item['number']} → {r.status_code}")
        page_url = certification.base_url.join(f"/verify/{item['number']}")
        step(f"certificate {item['number']} verifies on {page_url}",
             {k: item.get(k) for k in ("product_name", "rating_label", "status")})
    played.certificates = page
    return page


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--intake", default="http://127.0.0.1:8001")
    parser.add_argument("--scoring", default="http://127.0.0.1:8002")
    parser.add_argument("--certification", default=None, help="also wait for the certificate and verify it")
    args = parser.parse_args(argv)
    auth = auth_with(ensure_keys()[0].read_bytes())
    run = uuid.uuid4().hex[:4].upper()
    try:
        with httpx.Client(base_url=args.intake, timeout=30) as intake, \
                httpx.Client(base_url=args.scoring, timeout=30) as scoring:
            played = play_round(intake, scoring, auth, run)
        if args.certification:
            with httpx.Client(base_url=args.certification, timeout=30) as certification:
                certificates(certification, auth, played, expected=1)
    except Refused as refused:
        sys.exit(str(refused))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
