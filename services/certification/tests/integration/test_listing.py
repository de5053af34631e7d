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


async def test_the_registry_filtered_by_any_combination_walks_that_combination_s_key(env, auth):
    """Each combination of province, stars and year walks its own key (``province_stars_year_page_key`` …:
    ADR 0015), page by page by its cursor, valid certificates only (one past its date is left out before the
    expiry sweep records it), and a cursor means the same place in every variant. Documents stored before those
    keys existed get them at start-up and are listed the same."""
    from datetime import date as day
    from itertools import product

    from binhchon_kit.contracts.common import DecisionReference

    older = DecisionReference(number="7/QĐ-UBND", date=day(2025, 3, 2), signer="Trần Văn Hai",
                              authority="UBND tỉnh Bắc Giang")
    newer = DecisionReference(number="88/QĐ-UBND", date=day(2026, 11, 20), signer="Nguyễn Thị Ký",
                              authority="UBND tỉnh Bắc Giang")
    short = {0, 5, 13, 16}  # decided 2026-11-20, valid 12 months: expired on 2028-01-01, the others not
    results = [env.result(f"d-{n}", product=f"Sản phẩm {n}", registration=f"24000000{n:02d}",
                          province_code=("24", "01")[n % 2], stars=3 + (n // 2) % 3,
                          decision=(newer, older, newer)[(n // 6) % 3], validity_months=12 if n in short else 36)
               for n in range(18)]
    combinations = list(product((None, "24", "01", "99"), (None, 3, 4, 5), (None, 2025, 2026)))

    async def walk(cert, **filters):
        asked = {k: v for k, v in filters.items() if v is not None}
        seen, after = [], None
        while True:
            r = await cert.get("/registry.json", params={"limit": 2, **asked, **({"after": after} if after else {})})
            assert r.status_code == 200, r.text
            body = r.json()
            assert all(set(i) & {"page_key", *FILTER_KEYS.values()} == set() for i in body["items"])
            assert all(i["status"] == "valid" for i in body["items"])
            seen += [(i["number"], i["province_code"], i["stars"], i["year"]) for i in body["items"]]
            if (after := body["next"]) is None:
                return seen

    async def every_combination(cert, everything):
        for province, stars, year in combinations:
            wanted = [c for c in everything if province in (None, c[1]) and stars in (None, c[2])
                      and year in (None, c[3])]
            assert await walk(cert, province_code=province, stars=stars, year=year) == wanted, (province, stars, year)

    async with env.running() as cert:
        await env.approve(*results)

        async def all_of_them():
            return len(await walk(cert)) == 18 or None

        await eventually(all_of_them, what="eighteen certificates in the registry")
        everything = await walk(cert)
        assert {c[2] for c in everything} == {3, 4, 5} and {c[3] for c in everything} == {2025, 2026}
        await every_combination(cert, everything)
        # the unfiltered list's cursor continues a combination's list at the same place
        first = (await cert.get("/registry.json", params={"limit": 3})).json()
        rest = (await cert.get("/registry.json", params={"province_code": "24", "stars": 5, "year": 2026,
                                                         "after": first["next"]})).json()
        assert [i["number"] for i in rest["items"]] == [c[0] for c in everything[3:]
                                                        if c[1:] == ("24", 5, 2026)]

        # past their date, the 12-month ones leave every list at once (stored valid: the sweep has not run)
        env.clock.day = day(2028, 1, 1)
        lapsed = await _issued_on(env, short)
        still = [c for c in everything if c not in lapsed]
        assert len(lapsed) == 4 and len(still) == 14
        await every_combination(cert, still)

    # documents stored before the filter keys existed: start-up gives them their keys, all in one pass
    await env.db["certificates"].update_many({}, {"$unset": {key: "" for key in FILTER_KEYS.values()}})
    await env.db["read_model_keys"].delete_many({"_id": {"$in": [f"certificates.{key}.v1"
                                                                  for key in FILTER_KEYS.values()]}})
    async with env.running() as cert:
        assert await env.db["certificates"].count_documents(
            {key: {"$exists": True} for key in FILTER_KEYS.values()}) == 18
        await every_combination(cert, still)


async def _issued_on(env, dossiers):
    """The certificates issued on these dossiers' results, as the registry's walk lists them."""
    found = await env.db["certificates"].find({"dossier_id": {"$in": [f"d-{n}" for n in dossiers]}}).to_list()
    return [(d["number"], d["province_code"], d["stars"], d["year"]) for d in found]
