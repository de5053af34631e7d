"""The approver's start page over a stand-in for scoring (an httpx transport answering as its API does and noting
every request): the proposals awaiting a decision of the approver's own authorities, as scoring lists them with
the approver's token, each a link to its decision page; the next page by scoring's cursor; nobody else's page
asks scoring for the list."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from portal.sessions import COOKIE

TOKEN = "token-of-the-approver"
PROPOSAL = "proposal-0b7c4f0e-5d7e-4a8e-9d1b-3c2a1e0f9a88"
ITEM = {"proposal_id": PROPOSAL, "round_id": "round-1", "round_code": "BG-OCOP-2026-1",
        "round_title": "Đánh giá sản phẩm OCOP tỉnh Bắc Giang năm 2026", "programme": "OCOP", "level": "province",
        "authority_id": "province:24", "authority_name": "UBND tỉnh Bắc Giang", "dossiers": 12, "undecided": 12,
        # 23:26 UTC on 22/11 is 23/11 in Hà Nội: the page dates it as Vietnam does
        "proposed_at": "2026-11-22T23:26:00Z"}


class Scoring:
    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.pages: dict[str, dict[str, Any]] = {
            "": {"items": [ITEM], "limit": 20, "next": "bmV4dA"},
            "bmV4dA": {"items": [{**ITEM, "proposal_id": "proposal-2", "round_code": "BG-CNNTTB-2026",
                                  "round_title": None, "dossiers": 3, "undecided": 1,
                                  "proposed_at": "2026-12-01T02:00:00Z"}], "limit": 20, "next": None}}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.url.host == "scoring" and request.url.path == "/proposals/awaiting":
            return httpx.Response(200, json=self.pages[request.url.params.get("after", "")])
        return httpx.Response(404, json={"detail": "Not Found"})


@pytest.fixture
async def signed_in(stand_in_portal: Callable[..., Any]) -> AsyncIterator[Callable[..., Any]]:
    scoring = Scoring()
    app = stand_in_portal(scoring)
    clients: list[httpx.AsyncClient] = []

    def as_(*roles: str) -> tuple[httpx.AsyncClient, Scoring]:
        sessions = app.state.sessions
        session = sessions.signed_in(sessions.new(), subject="ubnd-bg", name="Lê Văn Duyệt", roles=roles,
                                     access_token=TOKEN)
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://portal",
                                   cookies={COOKIE: session.id})
        clients.append(client)
        return client, scoring

    yield as_
    for client in clients:
        await client.aclose()


async def test_the_approver_starts_on_the_proposals_awaiting_their_decision(signed_in: Any) -> None:
    client, scoring = signed_in("approver")

    page = await client.get("/de-nghi")

    assert page.status_code == 200, page.text
    [asked] = scoring.requests
    assert asked.url.path == "/proposals/awaiting" and asked.headers["authorization"] == f"Bearer {TOKEN}"
    assert dict(asked.url.params) == {"limit": "20"}
    assert "Đề nghị chờ quyết định" in page.text
    assert f'<a href="/de-nghi/{PROPOSAL}">BG-OCOP-2026-1 — Đánh giá sản phẩm OCOP tỉnh Bắc Giang năm 2026</a>' \
        in page.text
    row = page.text.split(PROPOSAL, 1)[1].split("</tr>", 1)[0]
    assert "<td>cấp tỉnh</td>" in row and "<td>12</td>" in row and "<td>23/11/2026</td>" in row
    assert 'href="/de-nghi?after=bmV4dA"' in page.text  # scoring's cursor, as it gave it

    following = await client.get("/de-nghi", params={"after": "bmV4dA"})
    assert scoring.requests[-1].url.params["after"] == "bmV4dA"
    row = following.text.split("/de-nghi/proposal-2", 1)[1].split("</tr>", 1)[0]
    assert "<td>3 (còn 1 chưa quyết định)</td>" in row and "<td>01/12/2026</td>" in row
    assert "Trang sau" not in following.text


async def test_an_approver_with_nothing_to_decide_is_told_so(signed_in: Any) -> None:
    client, scoring = signed_in("approver")
    scoring.pages[""] = {"items": [], "limit": 20, "next": None}

    page = await client.get("/de-nghi")

    assert page.status_code == 200
    assert "Không có đề nghị nào đang chờ quyết định của cơ quan ông/bà." in page.text
    assert 'name="ma"' in page.text  # a proposal can still be opened by its code


async def test_others_open_a_proposal_by_its_code_and_never_ask_for_the_list(signed_in: Any) -> None:
    client, scoring = signed_in("council_chair")

    page = await client.get("/de-nghi")

    assert page.status_code == 200 and 'name="ma"' in page.text and "chờ quyết định" not in page.text
    assert scoring.requests == []
    r = await client.get("/de-nghi", params={"ma": f" {PROPOSAL} "})
    assert r.status_code == 303 and r.headers["location"] == f"/de-nghi/{PROPOSAL}"
