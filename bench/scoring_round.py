"""Benchmark: a round of N dossiers × 7 judges through the scoring service, on real MongoDB-protocol storage.

    uv run python bench/scoring_round.py [--dossiers 1000] [--judges 7]

Phases, each timed: open scoring for every dossier (as dossier.accepted would), every judge submits a sheet
(the last sheet of each dossier aggregates it), the chair proposes the ranked table, the authority approves
it. Also times the pure aggregation alone. Printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from datetime import date
from pathlib import Path

from binhchon_kit.auth import Principal, Role
from binhchon_kit.auth.devtoken import ensure_keys
from binhchon_kit.contracts.common import Level
from binhchon_kit.events import Actor, Cause, RecordedEvent
from binhchon_kit.testing.apps import running
from binhchon_kit.testing.infra import REPO, provide
from binhchon_kit.topics import all_topics, ensure_topics
from scoring.domain import scoring as rules
from scoring.domain.aggregation import aggregate
from scoring.domain.authority import DecisionInput
from scoring.main import ScoringSettings, build
from scoring.service import Scoring


def sheet(rulebook_sheet, rng: random.Random) -> dict[str, float]:
    scores = {}
    for c in rulebook_sheet.criteria:
        choices = c.allowed or [x / 2 for x in range(int(c.maximum * 2) + 1)]
        high = [v for v in choices if v >= c.maximum * 0.6] or choices
        scores[c.code] = rng.choice(high)
    return scores


async def bench(kafka: str, mongodb: str, dossiers: int, judges: int, concurrency: int) -> None:
    run = uuid.uuid4().hex[:8]
    prefix = f"bench{run}."
    await ensure_topics(kafka, all_topics(prefix), partitions=6)
    _, public = ensure_keys(REPO / ".run" / f"bench-keys-{run}")
    settings = ScoringSettings(mongodb_url=mongodb, mongodb_database=f"bench_scoring_{run}",
                               kafka_bootstrap_servers=kafka, kafka_topic_prefix=prefix,
                               auth_public_keys_file=str(public), consumers_enabled=False, log_level="WARNING")
    app = build(settings)
    rng = random.Random(7)
    async with running(app, "http://scoring"):
        svc: Scoring = app.state.scoring
        round_id = f"round-{uuid.uuid4()}"
        cause = Cause("bench", "bench")
        members = [{"id": f"cm-{k}", "name": f"Thành viên {k}", "organisation": "Hội đồng",
                    "role": "chair" if k == 1 else "member"} for k in range(1, judges + 1)]
        panel = {"name": "Hội đồng", "members": members, "spread_threshold": 100,
                 "quorum": {"fraction": 0.75, "chair_required": True}}
        # what scoring learns from intake's round.opened (a panel is checked against its round's rulebook)
        await svc.rt.db["rounds"].insert_one({"_id": round_id, "round_id": round_id, "rulebook_id": "ocop-2023"})
        await svc.form_panel(round_id, panel, Actor("sec", ("secretariat",)), cause)
        rulebook = svc.rulebook("ocop-2023")
        scoring_sheet = rulebook.sheet("general")
        ids = [f"dossier-{uuid.uuid4()}" for _ in range(dossiers)]

        started = time.perf_counter()
        for n, dossier_id in enumerate(ids):
            accepted = {"round_id": round_id, "rulebook_id": "ocop-2023", "programme": "OCOP", "level": "province",
                        "product_group": "thực phẩm", "sample_code": f"TP-{n:04d}", "result_due_date": None,
                        "product_name": f"Sản phẩm {n}", "producer_name": f"HTX {n}"}
            event = RecordedEvent(id=str(uuid.uuid4()), stream=dossier_id, version=2, type="dossier.accepted",
                                  schema_version=1, subject=dossier_id, time=None, data=accepted,  # type: ignore[arg-type]
                                  actor=Actor("sec"), correlation_id="bench", causation_id="bench", source="bench",
                                  prev_hash="", hash="")
            await svc.on_dossier_accepted(event)
        opened = time.perf_counter() - started

        queue: asyncio.Queue[str] = asyncio.Queue()
        for dossier_id in ids:
            queue.put_nowait(dossier_id)

        async def panel_at_work() -> None:
            # panels score different dossiers side by side; one dossier's judges one after the other
            while not queue.empty():
                dossier_id = queue.get_nowait()
                for k in range(1, judges + 1):
                    scores = sheet(scoring_sheet, rng)
                    await svc.act(dossier_id, "score.submitted", lambda s, p, r, k=k, scores=scores: rules.submit(
                        s, p, r, f"cm-{k}", scores, ""), Actor(f"cm-{k}", ("judge",)), cause)

        started = time.perf_counter()
        await asyncio.gather(*(panel_at_work() for _ in range(concurrency)))
        scored = time.perf_counter() - started
        completed = await svc.rt.db["scoring"].count_documents({"round_id": round_id, "status": "completed"})

        started = time.perf_counter()
        proposal = await svc.propose(round_id, Actor("cm-1", ("council_chair",)), cause)
        proposed = time.perf_counter() - started

        started = time.perf_counter()
        decision = DecisionInput(number="1/QĐ-UBND", date=date(2026, 12, 1), signer="A")
        authority = (await svc.approving_authority(round_id)).id
        approver = Principal("ubnd", frozenset({Role.APPROVER}), authorities=frozenset({authority}))
        decided = await svc.approve(proposal.stream, decision, None, approver, cause)
        approved = time.perf_counter() - started

        sheets = {f"cm-{k}": sheet(scoring_sheet, rng) for k in range(1, judges + 1)}
        started = time.perf_counter()
        for _ in range(dossiers):
            aggregate(rulebook, scoring_sheet, Level.PROVINCE, sheets)
        pure = time.perf_counter() - started

    print(f"scoring round benchmark: {dossiers} dossiers × {judges} judges, {concurrency} dossiers scored side by "
          f"side, MongoDB {mongodb}")
    print(f"  open scoring (dossier.accepted):     {opened:7.2f} s  ({dossiers / opened:7.1f} dossiers/s)")
    print(f"  {dossiers * judges} sheets, aggregating each dossier at its last sheet: {scored:7.2f} s  "
          f"({dossiers * judges / scored:7.1f} sheets/s); {completed} dossiers completed")
    print(f"  proposal of the ranked table:         {proposed:7.2f} s")
    print(f"  approval ({len(decided)} decisions):          {approved:7.2f} s  ({len(decided) / approved:7.1f}/s)")
    print(f"  aggregate + approve (the last two and the scoring): {scored + proposed + approved:7.2f} s")
    print(f"  pure aggregation alone: {pure * 1000 / dossiers:.3f} ms per dossier")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=1000)
    parser.add_argument("--judges", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=4, help="dossiers scored side by side")
    args = parser.parse_args()
    with provide(Path(REPO / ".run" / f"bench-{uuid.uuid4().hex[:8]}")) as infra:
        asyncio.run(bench(infra.kafka, infra.mongodb, args.dossiers, args.judges, args.concurrency))


if __name__ == "__main__":
    main()
