"""The access matrix (issue 13, ADR 0030): every operation of the four services' OpenAPI documents, called as no
one, as each role, and as the owner and a stranger of the resource it names, on a real round (a panel, a dossier
scored by the whole panel, the chair's proposal) on the real broker and store; each answer is compared with the
operation's declared policy. An operation without a declaration fails."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from binhchon_kit.auth.roles import Role
from binhchon_kit.testing.access import Caller, Cell, Operation, matrix
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.documents import sample_pdf, upload_documents
from binhchon_kit.testing.fixtures import eventually
from binhchon_kit.testing.infra import Infra
from binhchon_kit.testing.samples import CHE, CHE_CHANGES, MEMBERS, dossier_body, round_body
from certification.main import CertificationSettings
from certification.main import build as build_certification
from intake.main import IntakeSettings
from intake.main import build as build_intake
from notify.main import NotifySettings
from notify.main import build as build_notify
from scoring.main import ScoringSettings
from scoring.main import build as build_scoring

pytestmark = pytest.mark.integration

APPLICANT, CHAIR, JUDGE, INBOX = "htx-owner", MEMBERS[0], MEMBERS[1], "person-with-inbox"
# who owns the world's resources, by the scope names the services declare
OWNERS = {"own dossier": {Role.APPLICANT: APPLICANT},
          "own panel": {Role.JUDGE: JUDGE, Role.COUNCIL_CHAIR: CHAIR},
          "own inbox": {role: INBOX for role in Role},
          "own authority": {Role.APPROVER: ("ubnd-bac-giang", ("province:24",))}}
APPROVER, APPROVER_FOR = ("ubnd-bac-giang",), ("province:24",)


@contextlib.asynccontextmanager
async def stack(infra: Infra, unique: str, prefix: str, key: str) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    common = dict(mongodb_url=infra.mongodb, kafka_bootstrap_servers=infra.kafka, kafka_topic_prefix=prefix,
                  auth_public_keys_file=key)
    apps = {
        "intake": build_intake(IntakeSettings(mongodb_database=f"intake_{unique}", **common)),
        "scoring": build_scoring(ScoringSettings(mongodb_database=f"scoring_{unique}", **common)),
        "certification": build_certification(CertificationSettings(mongodb_database=f"certification_{unique}",
                                                                   **common)),
        "notify": build_notify(NotifySettings(mongodb_database=f"notify_{unique}", smtp_host="127.0.0.1",
                                              smtp_port=9, **common)),
    }
    async with contextlib.AsyncExitStack() as stack:
        yield {name: await stack.enter_async_context(running(app, f"http://{name}")) for name, app in apps.items()}


async def world(clients: dict[str, httpx.AsyncClient], auth: Any, unique: str) -> dict[str, str]:
    """A province round with its panel, a dossier filed by APPLICANT and scored by the whole panel, and the
    chair's proposal: the ids the operations' paths name."""
    intake, scoring = clients["intake"], clients["scoring"]
    sec = auth("secretary", "secretariat")
    r = await intake.post("/rounds", headers=sec, json=round_body(f"AM{unique}", level="province",
                                                                 rulebook_id="ocop-2023"))
    assert r.status_code == 201, r.text
    round_id = r.json()["round_id"]
    members = [{"id": m, "name": f"Thành viên {m}", "organisation": "Sở Nông nghiệp và Môi trường",
                "role": "chair" if m == CHAIR else "member"} for m in MEMBERS]

    async def panel() -> httpx.Response | None:
        r = await scoring.post(f"/rounds/{round_id}/panel", headers=sec, json={"name": "Hội đồng", "members": members})
        return r if r.status_code == 201 else None

    await eventually(panel, what="scoring to hear of the round and form its panel")
    await upload_documents(intake, auth(APPLICANT, "applicant"))
    r = await intake.post(f"/rounds/{round_id}/dossiers", json=dossier_body(product="Chè Tân Cương"),
                          headers=auth(APPLICANT, "applicant"))
    assert r.status_code == 201, r.text
    receipt = r.json()
    dossier_id = receipt["dossier_id"]
    r = await intake.post(f"/dossiers/{dossier_id}/accept", headers=sec,
                          json={"product_group": "thực phẩm", "sample_code": "TP-01"})
    assert r.status_code == 201, r.text

    async def scored(member: str, change: dict[str, int]) -> httpx.Response | None:
        role = "council_chair" if member == CHAIR else "judge"
        r = await scoring.post(f"/dossiers/{dossier_id}/score-sheets", json={"scores": {**CHE, **change}},
                               headers=auth(member, role))
        return r if r.status_code == 201 else None

    for member, change in zip(MEMBERS, CHE_CHANGES, strict=True):
        await eventually(lambda m=member, c=change: scored(m, c), what=f"{member}'s sheet")
    r = await scoring.post(f"/rounds/{round_id}/proposals", headers=auth(CHAIR, "council_chair"))
    assert r.status_code == 201, r.text
    proposal_id = r.json()["proposal_id"]
    # the authority decides (Chè: 4 stars, recognised at the province): certification issues its certificate
    decision = {"number": "12/QĐ-UBND", "date": "2026-12-20",
                "signer": "Phó Chủ tịch UBND tỉnh"}
    r = await scoring.post(f"/proposals/{proposal_id}/approval", json={"decision": decision},
                           headers=auth(*APPROVER, "approver", authorities=APPROVER_FOR))
    assert r.status_code == 201, r.text

    async def issued() -> str | None:
        r = await clients["certification"].get("/certificates", params={"dossier_id": dossier_id}, headers=sec)
        items = r.json()["items"] if r.status_code == 200 else []
        return items[0]["number"] if items else None

    number = await eventually(issued, what="certification to issue the certificate")
    return {"round_id": round_id, "dossier_id": dossier_id, "proposal_id": proposal_id,
            "receipt_number": receipt["receipt_number"], "recipient_id": INBOX, "rulebook_id": "ocop-2023",
            "event_type": "dossier.received", "file_name": "v1.json", "number": number,
            "ceremony_id": "ceremony-none", "sha256": dossier_body()["documents"][0]["sha256"]}


async def test_every_route_answers_every_caller_as_its_declared_policy_says(infra, unique, topic_prefix, dev_keys,
                                                                            auth):
    async with stack(infra, unique, topic_prefix, str(dev_keys[1])) as clients:
        params = await world(clients, auth, unique)
        cells: dict[str, list[Cell]] = {}
        for service, client in clients.items():
            document = (await client.get("/openapi.json")).json()

            async def call(operation: Operation, caller: Caller, client: httpx.AsyncClient = client,
                           document: dict[str, Any] = document) -> int:
                headers = auth(caller.subject, caller.role.value, authorities=caller.authorities) \
                    if caller.role is not None else {}
                declared = document["paths"][operation.path][operation.method.lower()]
                if "multipart/form-data" in declared.get("requestBody", {}).get("content", {}):
                    # an upload gets a real file: a caller let through stores it (201, or 200 when stored before)
                    r = await client.request(operation.method, operation.url(params), headers=headers,
                                             files={"file": ("matrix.pdf", sample_pdf("Access matrix"))})
                    return r.status_code
                # a command gets an empty body: a caller let through meets its 422, one refused the 401/403
                body = "{}" if operation.method in ("POST", "PUT", "PATCH", "DELETE") else None
                if body is not None:
                    headers = {**headers, "content-type": "application/json"}
                r = await client.request(operation.method, operation.url(params), headers=headers, content=body)
                return r.status_code

            cells[service] = await matrix(document, OWNERS, call)

    undeclared = sorted({f"{s} {c.operation.method} {c.operation.path}" for s, cs in cells.items() for c in cs
                         if c.operation.access is None})
    assert not undeclared, f"operations with no declared access policy: {undeclared}"
    broken = [f"{s} {c.operation.method} {c.operation.path} as {c.caller.label}: {c.status}, declared {c.expected}"
              for s, cs in cells.items() for c in cs if not c.holds]
    assert not broken, "\n".join(broken)
    # the matrix is what the closing note counts: operations × callers, owners included
    size = {s: (len({(c.operation.method, c.operation.path) for c in cs}), len(cs)) for s, cs in cells.items()}
    print("access matrix (operations, calls):", json.dumps(size))
    assert all(calls > operations * len(Role) for operations, calls in size.values())
    owned = [c for cs in cells.values() for c in cs if c.caller.owner]
    assert {c.operation.path for c in owned} >= {"/dossiers/{dossier_id}", "/rounds/{round_id}/panel",
                                                 "/inbox/{recipient_id}", "/proposals/{proposal_id}.json",
                                                 "/proposals/{proposal_id}/approval",
                                                 "/certificates/{number}/revocation",
                                                 "/dossiers/{dossier_id}/documents/{sha256}"}
