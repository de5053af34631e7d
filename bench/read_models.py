"""Benchmark: the read-model pages people open most, at N = 1,000, 10,000 and 50,000 certificates and dossiers.

    uv run python bench/read_models.py [--sizes 1000,10000,50000] [--quick] [--samples N] [--budget S] [--min-samples N]

Measured through the services' real HTTP apps (in-process ASGI, as the tests run them), one request at a time:
the public registry page ``/registry.json?limit=20`` without and with filters (province, stars, year, each
pair, all three), the registry's next pages through the cursor (``registry_next``: the page after the first, and
``variant: "deep"`` a page ten pages in), a round's dossier list page (``/dossiers?round_id=…&limit=20``, as the
secretariat sees it) and its next page (``dossiers_by_round_next``), and the public verification page
``/verify/{number}``. Lists are keyset pages (ADR 0015): a page's cost should not depend on N, and once
FerretDB pushes the key's range, sort and limit down (the patched build) it is the database that cuts it.
Beside them, in the same run on the same server, the raw ceiling: a ``find_one({_id})`` and an indexed
``find({round_id}).limit(20)`` straight through the driver; and a page's "displayed at" lookup through the driver,
as the registry asks it (``displays_of_a_page``, its twenty certificates' filings by ``_id``) and as it asked it
before (``variant: "before: $in over displays"``).

How the data is filled, for speed (N is large and the question is how reads scale, not how writes do):
- certificates: each ``certificate.issued`` event (real content, really signed) is appended through the
  service's event store (so ``/verify`` reads a real stream among N), 8 appends at a time; the read-model
  document is then shaped by certification's own fold (``fold_certificate``), exactly as the projector would,
  and written in bulk (``insert_many``) with the number's pointer, and the projection queue's entries are
  marked done as the projector marks them;
- dossiers: the list reads only intake's read model, so each document is intake's own fold (``fold_dossier``)
  of a validated ``dossier.received`` event, written in bulk; nothing is appended to intake's store.
- displays: a tenth of the certificates displayed at one or two fairs, with their filing by certificate (the
  registry shows a page's displays, ADR 0050), written in bulk as the ledger writes them.
Certificates and dossiers are spread over 10 rounds, 20 provinces, 3 to 5 stars and the years 2024–2026.

One JSON line per measurement, e.g. ``{"bench": "registry", "n": 50000, "p50_ms": …, "p99_ms": …}`` (with
``"variant"`` for a filter), printed, never asserted. Each measurement takes ``--samples`` requests or stops
after ``--budget`` seconds (at least ``--min-samples``, default 10); ``samples`` says how many it took (with few,
p99 is the slowest one).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pymongo import AsyncMongoClient

from binhchon_kit.auth.devtoken import ensure_keys, mint
from binhchon_kit.contracts.certification import CertificateIssued
from binhchon_kit.contracts.intake import DossierReceived
from binhchon_kit.events import Actor, Cause, NewEvent, RecordedEvent
from binhchon_kit.eventstore import EventStore, event_key
from binhchon_kit.signing import Signer
from binhchon_kit.store_principals import redacted
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.infra import REPO, provide
from binhchon_kit.testing.samples import dossier_body

ROUNDS = 10
PROVINCES = [("01", "Hà Nội"), ("02", "Hà Giang"), ("04", "Cao Bằng"), ("08", "Tuyên Quang"), ("10", "Lào Cai"),
             ("15", "Yên Bái"), ("19", "Thái Nguyên"), ("20", "Lạng Sơn"), ("22", "Quảng Ninh"), ("24", "Bắc Giang"),
             ("25", "Phú Thọ"), ("26", "Vĩnh Phúc"), ("27", "Bắc Ninh"), ("30", "Hải Dương"), ("31", "Hải Phòng"),
             ("33", "Hưng Yên"), ("34", "Thái Bình"), ("35", "Hà Nam"), ("36", "Nam Định"), ("37", "Ninh Bình")]
SYSTEM = Actor.system("certification")
FILL_CONCURRENCY = 8
# a service starting on a store that holds N read-model documents checks their keys first (ADR 0015): at 50,000
# on a shared machine that took over the 60 s a test gives an app to start
STARTUP_S = 600


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def emit(bench: str, n: int, timings: list[float], **extra: Any) -> None:
    print(json.dumps({"bench": bench, "n": n, **extra, "p50_ms": round(percentile(timings, 0.5), 2),
                      "p99_ms": round(percentile(timings, 0.99), 2), "samples": len(timings)}), flush=True)


MIN_SAMPLES = 10


async def timed(call: Callable[[], Awaitable[Any]], samples: int, budget: float, least: int) -> list[float]:
    """Milliseconds per call, one call at a time, after two warm-up calls."""
    for _ in range(2):
        await call()
    timings: list[float] = []
    deadline = time.perf_counter() + budget
    while len(timings) < samples and (len(timings) < least or time.perf_counter() < deadline):
        started = time.perf_counter()
        await call()
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def round_id(r: int) -> str:
    return f"round-bench-{r:02d}"


def province(n: int) -> tuple[str, str]:
    return PROVINCES[n % len(PROVINCES)]


def stars(n: int) -> int:
    return 3 + (n // len(PROVINCES)) % 3


def year(n: int) -> int:
    return 2024 + (n // (len(PROVINCES) * 3)) % 3


# ---- certificates ----------------------------------------------------------------------------------------


async def fill_certificates(mongodb: str, database: str, count: int) -> list[str]:
    """N certificates as the service holds them; returns their numbers in issue order."""
    from certification.domain import certificates as certs

    signer = Signer(Ed25519PrivateKey.generate())
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb)
    db = client[database]
    store = EventStore(db, "/binhchon/certification")
    await store.setup()
    numbers: list[str] = [""] * count
    docs: list[dict[str, Any]] = [{}] * count
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(count):
        queue.put_nowait(n)

    async def issue(n: int) -> None:
        code, name = province(n)
        decided = date(year(n), 1 + n % 12, 1 + n % 28)
        result = {"dossier_id": f"dossier-bench-{n}", "round_id": round_id(n % ROUNDS), "programme": "OCOP",
                  "level": "province", "rulebook_id": "ocop-2025",
                  "rating": {"stars": stars(n), "recognised": True, "label": f"{stars(n)} sao"},
                  "points": 50 + stars(n) * 10 + n % 10,
                  "decision": {"number": f"{n}/QĐ-UBND", "date": decided.isoformat(), "signer": "Nguyễn Văn A",
                               "authority": f"UBND tỉnh {name}"},
                  "product_name": f"Sản phẩm đặc sản số {n}", "producer_name": f"Hợp tác xã số {n}",
                  "producer_address": f"Xã Đông Hưng, Tỉnh {name}", "province_code": code,
                  "certificate_validity_months": 36}
        result_event_id = str(uuid.uuid4())
        stream = certs.certificate_id_for(result_event_id)
        number = certs.number_for(certs.numbering("OCOP", result["decision"], decided.year)[1], n + 1)
        body = certs.content(result, certificate_id=stream, number=number, issued_on=decided + timedelta(days=3),
                             result_event_id=result_event_id, supersedes=None)
        issued = CertificateIssued.model_validate({**body, "signature": signer.sign(body), "key_id": signer.kid})
        recorded = await store.append(stream, 0, NewEvent(issued), subject=result["dossier_id"],
                                      actor=SYSTEM, cause=Cause("bench", result_event_id))
        numbers[n] = number
        docs[n] = {**certs.fold_certificate([recorded]), "_id": stream, "version": recorded.version}

    async def worker() -> None:
        while not queue.empty():
            await issue(queue.get_nowait())

    await asyncio.gather(*(worker() for _ in range(FILL_CONCURRENCY)))
    for start in range(0, count, 1000):
        chunk = docs[start:start + 1000]
        await db["certificates"].insert_many(chunk, ordered=False)
        await db["numbers"].insert_many([{"_id": d["number"], "stream": d["_id"]} for d in chunk], ordered=False)
        # what the relay and the projector do once Kafka and the read model hold these events. Published first:
        # the projector's mark goes only once the relay's has (eventstore_mongo), and events left unpublished (the
        # bench runs no relay) were offered again to the app's projector every 2 s during the measurements, 500
        # at a time with two lookups each: the store and the loop busy with them rather than with the requests
        keys = [event_key(d["_id"], 1) for d in chunk]
        await store.done("outbox", keys)
        await store.done("projection_queue", keys)
    await fill_displays(db, numbers)
    await client.close()
    return numbers


async def fill_displays(db: Any, numbers: list[str]) -> None:
    """A tenth of the products displayed at a fair or two (ADR 0050): the displays' read model and their filing by
    certificate as the ledger writes them (its own functions), so that a registry page finds its products'
    displays among N/10 certificates' worth; the ledger's marker says they are filed."""
    from certification.domain import ledger as rules
    from certification.ledger import FILED

    displays: list[dict[str, Any]] = []
    filed: list[dict[str, Any]] = []
    for n, number in enumerate(numbers):
        if n % 10 != 3:
            continue
        mine = []
        for fair in range(1 + n % 2):
            on = date(2025, 1 + (n + fair) % 12, 1 + fair).isoformat()
            display_id = rules.display_id(number, "Hội chợ OCOP", on, f"Hội chợ {fair}")
            data = {"display_id": display_id, "certificate_number": number, "round_id": round_id(n % ROUNDS),
                    "exhibition": "Hội chợ OCOP", "on": on, "until": None, "place": f"Hội chợ {fair}",
                    "product_name": f"Sản phẩm đặc sản số {n}", "code": None}
            mine.append({"_id": display_id, **data, "event_id": str(uuid.uuid4()), "version": 1,
                         "display_key": rules.display_key(data)})
        displays += mine
        filed.append({"_id": number, "count": len(mine), "displays": rules.displays_filed(mine)})
    for start in range(0, len(displays), 1000):
        await db["displays"].insert_many(displays[start:start + 1000], ordered=False)
    for start in range(0, len(filed), 1000):
        await db[FILED].insert_many(filed[start:start + 1000], ordered=False)
    await db["read_model_keys"].insert_many([{"_id": f"{FILED}.v1", "filed": len(filed)},
                                             {"_id": "displays.display_key.v1", "filled": 0}])


# ---- dossiers --------------------------------------------------------------------------------------------


def dossier_document(n: int) -> dict[str, Any]:
    from intake.domain.dossiers import fold_dossier

    code, name = province(n)
    body = dossier_body(product=f"Sản phẩm số {n}", regno=f"BN{n:08d}")
    body["producer"]["address"].update(province_code=code, province=f"Tỉnh {name}", district_code=f"{n % 500:03d}")
    stream = f"dossier-bench-{n:08d}"
    received_at = datetime(2026, 11, 1, 2, 0, tzinfo=UTC) + timedelta(seconds=n)
    data = DossierReceived.model_validate({
        "dossier_id": stream, "round_id": round_id(n % ROUNDS), "round_code": f"BENCH{n % ROUNDS:02d}",
        "programme": "OCOP", "level": "province", "receipt_number": f"BENCH-{n:08d}", "received_at": received_at,
        "check_due_date": "2026-11-20", **body}).model_dump(mode="json")
    event = RecordedEvent(id=str(uuid.uuid4()), stream=stream, version=1, type="dossier.received", schema_version=1,
                          subject=stream, time=received_at, data=data, actor=Actor(f"applicant-{n}", ("applicant",)),
                          correlation_id="bench", causation_id="bench", source="/binhchon/intake", prev_hash="",
                          hash="")
    return {**fold_dossier([event]), "_id": stream, "version": 1}


async def fill_dossiers(mongodb: str, database: str, count: int) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb)
    for start in range(0, count, 1000):
        await client[database]["dossiers"].insert_many(
            [dossier_document(n) for n in range(start, min(count, start + 1000))], ordered=False)
    await client.close()


# ---- measuring -------------------------------------------------------------------------------------------


async def measure(kafka: str, mongodb: str, n: int, pace: tuple[int, float, int]) -> None:
    """``pace``: at most this many requests, for at most this many seconds, at least this many requests."""
    from certification.main import CertificationSettings
    from certification.main import build as build_certification
    from intake.main import IntakeSettings
    from intake.main import build as build_intake

    run = uuid.uuid4().hex[:8]
    private, public = ensure_keys(REPO / ".run" / f"bench-keys-{run}")
    common = dict(mongodb_url=mongodb, kafka_bootstrap_servers=kafka, kafka_topic_prefix=f"bench{run}.",
                  auth_public_keys_file=str(public), consumers_enabled=False, relay_enabled=False,
                  log_level="WARNING", public_requests_per_minute=0)  # the bench is one client asking many times
    cert_db, intake_db = f"bench_rm_cert_{run}", f"bench_rm_intake_{run}"
    began = time.perf_counter()
    numbers = await fill_certificates(mongodb, cert_db, n)
    cert_fill = time.perf_counter() - began
    began = time.perf_counter()
    await fill_dossiers(mongodb, intake_db, n)
    print(json.dumps({"bench": "fill", "n": n, "certificates_s": round(cert_fill, 1),
                      "dossiers_s": round(time.perf_counter() - began, 1)}), flush=True)

    raw: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb)
    try:
        # the read models' indexes and key fills, by the services' own setup, before their start-up runs it again
        # and finds them done: building them over N rows can outlast the start-up timeout on a loaded machine
        from certification.views import setup as certification_views
        from intake.views import setup as intake_views

        began = time.perf_counter()
        await certification_views(raw[cert_db])
        await intake_views(raw[intake_db])
        print(json.dumps({"bench": "setup", "n": n, "s": round(time.perf_counter() - began, 1)}), flush=True)
        certificates = raw[cert_db]["certificates"]
        stream_ids = [d["_id"] async for d in certificates.find({}, projection={"_id": 1}, limit=200)]
        cert_app = build_certification(CertificationSettings(mongodb_database=cert_db, **common))  # type: ignore[arg-type]
        async with running(cert_app, "http://cert", startup_timeout=STARTUP_S) as client:
            # the raw ceiling runs after, on the same indexes
            variants: list[tuple[str | None, dict[str, Any]]] = [
                (None, {}), ("province", {"province_code": "24"}), ("stars", {"stars": 4}), ("year", {"year": 2025}),
                ("province+stars", {"province_code": "24", "stars": 4}),
                ("province+year", {"province_code": "24", "year": 2025}), ("stars+year", {"stars": 4, "year": 2025}),
                ("province+stars+year", {"province_code": "24", "stars": 4, "year": 2025})]
            for variant, filters in variants:
                params = {"limit": 20, **filters}

                async def registry(params: dict[str, Any] = params) -> None:
                    (await client.get("/registry.json", params=params)).raise_for_status()

                extra = {"variant": variant} if variant else {}
                emit("registry", n, await timed(registry, *pace), **extra)
            # the following pages, by the cursor each page gives: the second, and the eleventh
            cursors = [None]
            for _ in range(10):
                page = (await client.get("/registry.json", params={"limit": 20, "after": cursors[-1]})).json()
                assert len(page["items"]) == 20 and page["next"], "the registry ran out of pages"
                cursors.append(page["next"])
            for variant, cursor in ((None, cursors[1]), ("deep", cursors[10])):
                async def registry_next(cursor: str | None = cursor) -> None:
                    (await client.get("/registry.json", params={"limit": 20, "after": cursor})).raise_for_status()

                extra = {"variant": variant} if variant else {}
                emit("registry_next", n, await timed(registry_next, *pace), **extra)
            picks = iter(numbers[i * 7919 % len(numbers)] for i in range(10**9))

            async def verify() -> None:
                (await client.get(f"/verify/{next(picks)}")).raise_for_status()

            emit("verify", n, await timed(verify, *pace))
            ids = iter(stream_ids[i % len(stream_ids)] for i in range(10**9))

            async def find_one() -> None:
                assert await certificates.find_one({"_id": next(ids)}) is not None

            emit("raw_find_one_id", n, await timed(find_one, *pace))

            async def find_indexed() -> None:
                assert len(await certificates.find({"round_id": round_id(3)}).limit(20).to_list()) == 20

            emit("raw_find_indexed_limit20", n, await timed(find_indexed, *pace))

            # a registry page's "displayed at" lookup, as it is (the page's filings by _id) and as it was before
            # ADR 0050's amendment of 2026-11-30 (`$in` over every display: FerretDB fetched them all), same pages
            from certification.ledger import FILED

            pages = iter([numbers[(i * 20 + k) % len(numbers)] for k in range(20)] for i in range(10**9))

            async def displays_filed() -> None:
                await raw[cert_db][FILED].find({"_id": {"$in": next(pages)}}).to_list()

            emit("displays_of_a_page", n, await timed(displays_filed, *pace), variant="filed by certificate")

            async def displays_scanned() -> None:
                await raw[cert_db]["displays"].find({"certificate_number": {"$in": next(pages)}}).to_list()

            emit("displays_of_a_page", n, await timed(displays_scanned, *pace), variant="before: $in over displays")

        intake_app = build_intake(IntakeSettings(mongodb_database=intake_db, **common))  # type: ignore[arg-type]
        staff = {"Authorization": f"Bearer {mint(private.read_bytes(), subject='sec', roles=['secretariat'])}"}
        async with running(intake_app, "http://intake", startup_timeout=STARTUP_S) as client:
            async def dossiers() -> None:
                r = await client.get("/dossiers", params={"round_id": round_id(3), "limit": 20}, headers=staff)
                r.raise_for_status()

            emit("dossiers_by_round", n, await timed(dossiers, *pace))
            first = (await client.get("/dossiers", params={"round_id": round_id(3), "limit": 20},
                                      headers=staff)).json()
            assert first["next"], "the round has a second page"

            async def dossiers_next() -> None:
                r = await client.get("/dossiers", params={"round_id": round_id(3), "limit": 20,
                                                          "after": first["next"]}, headers=staff)
                r.raise_for_status()

            emit("dossiers_by_round_next", n, await timed(dossiers_next, *pace))
    finally:
        for name in (cert_db, intake_db):
            await raw.drop_database(name)
        await raw.close()


async def describe(mongodb: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb)
    info = await client.admin.command("buildInfo")
    await client.close()
    print(json.dumps({"bench": "server", "mongodb": redacted(mongodb), "version": info.get("version"),
                      "ferretdb": info.get("ferretdbVersion")}, default=str), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,50000", help="comma-separated N (default 1000,10000,50000)")
    parser.add_argument("--quick", action="store_true", help="N = 1,000 only, few samples (a smoke run)")
    parser.add_argument("--samples", type=int, default=200, help="requests per measurement at most")
    parser.add_argument("--budget", type=float, default=30, help="seconds per measurement at most")
    parser.add_argument("--min-samples", type=int, default=MIN_SAMPLES,
                        help="requests per measurement at least, whatever the budget (default 10)")
    args = parser.parse_args()
    sizes = [1000] if args.quick else [int(s.replace("_", "")) for s in args.sizes.split(",")]
    pace = (20, 5.0, MIN_SAMPLES) if args.quick else (args.samples, args.budget, args.min_samples)

    async def run(kafka: str, mongodb: str) -> None:
        await describe(mongodb)
        for n in sizes:
            await measure(kafka, mongodb, n, pace)

    with provide(REPO / ".run" / f"bench-{uuid.uuid4().hex[:8]}") as infra:
        asyncio.run(run(infra.kafka, infra.mongodb))


if __name__ == "__main__":
    main()
