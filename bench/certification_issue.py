"""Benchmark: issue N certificates (signed, numbered, projected) from approved results, then render PDFs.

    uv run python bench/certification_issue.py [--certificates 1000] [--concurrency 4] [--pdfs 100]

Results are handed to the service's handler directly (as the Kafka consumer would), on real MongoDB-protocol
storage. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, datetime

from binhchon_kit.auth.devtoken import ensure_keys
from binhchon_kit.events import Actor, RecordedEvent
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.infra import REPO, provide
from certification.adapters.pdf import render_certificate_pdf
from certification.main import CertificationSettings, build
from certification.service import Certification


def result(n: int) -> RecordedEvent:
    data = {"dossier_id": f"dossier-{n}", "round_id": "round-bench", "programme": "OCOP", "level": "province",
            "rulebook_id": "ocop-2023", "rating": {"stars": 4, "recognised": True, "label": "4 sao"},
            "points": 70 + n % 20, "decision": {"number": "99/QĐ-UBND", "date": "2026-11-20", "signer": "Nguyễn Văn A",
                                                "authority": "UBND tỉnh Bắc Giang"},
            "goes_up_a_level": False, "next_level": None, "product_name": f"Sản phẩm đặc sản số {n}",
            "producer_name": f"Hợp tác xã số {n}", "producer_address": "Xã Đông Hưng, Huyện Lục Nam, Tỉnh Bắc Giang",
            "province_code": "24", "certificate_validity_months": 36}
    return RecordedEvent(id=str(uuid.uuid4()), stream=f"scoring-{n}", version=9, type="result.approved",
                         schema_version=1, subject=f"dossier-{n}", time=datetime.now(UTC), data=data,
                         actor=Actor("ubnd", ("approver",)), correlation_id="bench", causation_id="bench",
                         source="/binhchon/scoring", prev_hash="", hash="")


async def bench(kafka: str, mongodb: str, count: int, concurrency: int, pdfs: int) -> None:
    run = uuid.uuid4().hex[:8]
    _, public = ensure_keys(REPO / ".run" / f"bench-keys-{run}")
    settings = CertificationSettings(mongodb_url=mongodb, mongodb_database=f"bench_cert_{run}",
                                     kafka_bootstrap_servers=kafka, kafka_topic_prefix=f"bench{run}.",
                                     auth_public_keys_file=str(public), consumers_enabled=False,
                                     relay_enabled=False, log_level="WARNING")
    app = build(settings)
    async with running(app, "http://cert"):
        svc: Certification = app.state.certification
        queue: asyncio.Queue[int] = asyncio.Queue()
        for n in range(count):
            queue.put_nowait(n)

        async def worker() -> None:
            while not queue.empty():
                await svc.on_result_approved(result(queue.get_nowait()))

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        issued_in = time.perf_counter() - started
        issued = await svc.rt.db["certificates"].count_documents({})
        docs = await svc.rt.db["certificates"].find({}, limit=pdfs).to_list()
        started = time.perf_counter()
        for doc in docs:
            render_certificate_pdf({**doc, "producer_name": doc["holder"]["name"],
                                    "producer_address": doc["holder"]["address"]}, svc.verify_url(doc["number"]),
                                   font_file=app.state.fonts[0], bold_font_file=app.state.fonts[1])
        rendered_in = time.perf_counter() - started
    print(f"certification benchmark: {count} approved results, {concurrency} at a time, MongoDB {mongodb}")
    print(f"  issued {issued} certificates in {issued_in:.2f} s ({issued / issued_in:.1f}/s; "
          f"signed, numbered, stored as events, projected)")
    print(f"  rendered {len(docs)} PDFs in {rendered_in:.2f} s ({rendered_in * 1000 / max(len(docs), 1):.1f} ms each)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--certificates", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--pdfs", type=int, default=100)
    args = parser.parse_args()
    with provide(REPO / ".run" / f"bench-{uuid.uuid4().hex[:8]}") as infra:
        asyncio.run(bench(infra.kafka, infra.mongodb, args.certificates, args.concurrency, args.pdfs))


if __name__ == "__main__":
    main()
