"""Staff list a round's or a dossier's certificates, whatever their status, page by page."""

from __future__ import annotations

from datetime import date

import pytest

from binhchon_kit.testing.fixtures import eventually
from certification.views import FILTER_KEYS

pytestmark = pytest.mark.integration


async def test_staff_list_certificates_by_round_dossier_and_status(env, auth):
    async with env.running() as cert:
        await env.approve(env.result("r1-a", product="Mật ong", registration="2400000001"),
                          env.result("r1-b", product="Chè xanh", registration="2400000002"),
                          env.result("r2-a", product="Vải thiều", registration="2400000003", round_id="round-2"))

        async def listed(params, count, who=("sec", "secretariat")):
            async def check():
                r = await cert.get("/certificates", params=params, headers=auth(*who))
                assert r.status_code == 200, r.text
                return r.json() if len(r.json()["items"]) == count else None
            return await eventually(check, what=f"{count} certificates for {params}")

        everything = await listed({"total": "true"}, 3)  # the count only when asked for (ADR 0015)

        # the public registry, newest first, page by page by its cursor (no total: validity is checked by date)
        walked, after = [], None
        while True:
            body = (await cert.get("/registry.json", params={"limit": 1, **({"after": after} if after else {})})).json()
            assert "total" not in body and len(body["items"]) <= 1
            walked += [i["number"] for i in body["items"]]
            if (after := body["next"]) is None:
                break
        assert sorted(walked) == sorted(i["number"] for i in everything["items"])
        assert walked == sorted(walked, reverse=True)  # issued the same day: newest first is number descending
        html = (await cert.get("/registry", params={"limit": 1})).text
        assert "Sau →" in html and "after=" in html and "Về đầu" not in html
        for bad in ({"after": "bm90LWEta2V5"}, {"offset": 50}):  # "not-a-key"; an old client's offset
            r = await cert.get("/registry.json", params=bad)
            assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", *bad], r.text
        round_1 = await listed({"round_id": "round-1"}, 2)
        assert {i["dossier_id"] for i in round_1["items"]} == {"r1-a", "r1-b"}
        assert [i["dossier_id"] for i in (await listed({"dossier_id": "r2-a"}, 1))["items"]] == ["r2-a"]
        assert all("signature" not in i and i["status"] == "valid" for i in everything["items"])

        revoked = next(i["number"] for i in round_1["items"] if i["dossier_id"] == "r1-b")
        r = await cert.post(f"/certificates/{revoked}/revocation", json={"reason": "Vi phạm tiêu chí bắt buộc"},
                            headers=auth("ubnd", "approver", authorities=("province:24",)))
        assert r.status_code == 201, r.text
        assert [i["number"] for i in (await listed({"status": "revoked"}, 1))["items"]] == [revoked]
        assert (await listed({"round_id": "round-1", "status": "valid"}, 1))["items"][0]["dossier_id"] == "r1-a"
        # a dossier's own certificates, to anyone (its applicant's result page): every status, as public as each
        # certificate is (no token, no holder registration number), where the registry lists valid ones only
        r = await cert.get("/dossiers/r1-b/certificates")
        assert r.status_code == 200, r.text
        assert [(i["number"], i["status"]) for i in r.json()["items"]] == [(revoked, "revoked")]
        assert "registration_number" not in r.json()["items"][0]["holder"] and "signature" not in r.json()["items"][0]
        assert revoked not in [i["number"] for i in (await cert.get("/registry.json")).json()["items"]]
        assert (await cert.get("/dossiers/no-such-dossier/certificates")).json()["items"] == []

        # paged: the database cuts, the pages cover the whole in order of issue (one day here: number order)
        assert everything["total"] == 3  # equalities only: the database counts them
        first = await listed({"limit": 2}, 2, ("chair", "council_chair"))
        second = await listed({"limit": 2, "after": first["next"]}, 1, ("chair", "council_chair"))
        assert second["next"] is None
        pages = [first["items"], second["items"]]
        assert [i["number"] for p in pages for i in p] == sorted(i["number"] for i in everything["items"])

        # past valid_until the status is expired, even before the expiry sweep has recorded it
        env.clock.day = date(2029, 11, 21)
        expired = await listed({"status": "expired"}, 2, ("audit", "auditor"))
        assert {i["status"] for i in expired["items"]} == {"expired"}
        assert (await listed({"status": "valid"}, 0, ("ubnd", "approver")))["items"] == []

        # who may not: no token, a producer, a judge; a bad status is named
        assert (await cert.get("/certificates")).status_code == 401
        for role in ("applicant", "judge"):
            assert (await cert.get("/certificates", headers=auth("someone", role))).status_code == 403
        r = await cert.get("/certificates", params={"status": "lost"}, headers=auth("sec", "secretariat"))
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["query", "status"] and "valid" in r.json()["detail"][0]["msg"]
        r = await cert.get("/certificates", params={"limit": 0}, headers=auth("sec", "secretariat"))
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "limit"]


async def test_the_registry_filtered_by_province_or_year_walks_that_filter_s_own_key(env, auth):
    """A province's or a year's certificates are few among all: the registry walks that filter's own key
    (``province_page_key``, ``year_page_key``: ADR 0015), and a cursor means the same place in every variant.
    Documents stored before those keys existed get them at start-up and are listed too."""
    from datetime import date as day

    from binhchon_kit.contracts.common import DecisionReference

    older = DecisionReference(number="7/QĐ-UBND", date=day(2025, 3, 2), signer="Trần Văn Hai",
                              authority="UBND tỉnh Bắc Giang")
    newer = DecisionReference(number="88/QĐ-UBND", date=day(2026, 11, 20), signer="Nguyễn Thị Ký",
                              authority="UBND tỉnh Bắc Giang")
    results = [env.result(f"d-{n}", product=f"Sản phẩm {n}", registration=f"24000000{n:02d}",
                          province_code=("24", "01", "24")[n % 3], decision=older if n % 2 else newer)
               for n in range(9)]
    async with env.running() as cert:
        await env.approve(*results)

        async def walk(**filters):
            seen, after = [], None
            while True:
                body = (await cert.get("/registry.json", params={"limit": 2, **filters,
                                                                 **({"after": after} if after else {})})).json()
                assert all(set(i) & {"page_key", *FILTER_KEYS.values()} == set()
                           for i in body["items"])
                seen += [(i["number"], i["province_code"], i["year"]) for i in body["items"]]
                if (after := body["next"]) is None:
                    return seen

        async def all_nine():
            return len(await walk()) == 9 or None

        await eventually(all_nine, what="nine certificates in the registry")
        everything = await walk()
        for filters, wanted in (({"province_code": "24"}, lambda c: c[1] == "24"),
                                ({"year": 2025}, lambda c: c[2] == 2025),
                                ({"province_code": "01", "year": 2025}, lambda c: c[1] == "01" and c[2] == 2025),
                                ({"province_code": "99"}, lambda c: False)):
            assert await walk(**filters) == [c for c in everything if wanted(c)], filters
        # the unfiltered list's cursor continues a province's list at the same place
        first = (await cert.get("/registry.json", params={"limit": 3})).json()
        rest = (await cert.get("/registry.json", params={"province_code": "24", "after": first["next"]})).json()
        assert [i["number"] for i in rest["items"]] == [c[0] for c in everything[3:] if c[1] == "24"]

    # documents stored before the filter keys existed: start-up gives them their keys
    await env.db["certificates"].update_many({}, {"$unset": {"province_page_key": "", "year_page_key": ""}})
    for marker in ("certificates.province_page_key.v1", "certificates.year_page_key.v1"):
        await env.db["read_model_keys"].delete_one({"_id": marker})
    async with env.running() as cert:
        numbers = []
        after = None
        while True:
            body = (await cert.get("/registry.json", params={"province_code": "01", "limit": 2,
                                                             **({"after": after} if after else {})})).json()
            numbers += [i["number"] for i in body["items"]]
            if (after := body["next"]) is None:
                break
        assert numbers == [c[0] for c in everything if c[1] == "01"]
