"""Reading history from the topics: a dossier's whole timeline across services and levels, and what a round's
results would be under another rulebook version (read-only)."""

from __future__ import annotations

import heapq
import json
import sys
from collections import defaultdict
from datetime import datetime
from itertools import pairwise
from typing import Any

from binhchon_kit.vietnam_time import VIETNAM
from binhchon_tools.audit_decisions import recorded
from binhchon_tools.audit_report import Progress, table
from binhchon_tools.audit_topics import read_records
from scoring.adapters.rulebooks import Rulebooks
from scoring.domain.aggregation import aggregate
from scoring.domain.scoring import evolve, unsealed
from scoring.domain.sealing import DossierKey


async def read_events(bootstrap: str, topics: list[str], what: str) -> list[dict[str, Any]]:
    """Every event of ``topics``, one copy of each (the relay may publish one twice)."""
    progress = Progress(what)
    seen: dict[str, dict[str, Any]] = {}
    async for batch in read_records(bootstrap, topics, on_start=progress.start):
        for record in batch:
            try:
                event = json.loads(record.value)
                seen.setdefault(str(event["id"]), event)
            except (ValueError, KeyError, TypeError):
                continue  # verify names unreadable records; a history shows events
        progress.advance(len(batch))
    progress.finish()
    return list(seen.values())


def related_dossiers(events: list[dict[str, Any]], dossier: str) -> set[str]:
    """The dossier, and every dossier it was escalated from or to, at any level (via ``escalated_from``)."""
    links = [(e["data"]["escalated_from"]["dossier_id"], e["data"]["dossier_id"]) for e in events
             if e["type"] == "dossier.received" and e["data"].get("escalated_from")]
    found = {dossier}
    grew = True
    while grew:
        grew = False
        for lower, upper in links:
            if (lower in found) != (upper in found):
                found |= {lower, upper}
                grew = True
    return found


def causal_order(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each event after the event that caused it (``causationid``) and after its stream's earlier versions; among
    events free to go, the earlier recorded first."""
    by_id = {e["id"]: e for e in events}
    after: dict[str, list[str]] = defaultdict(list)
    waiting: dict[str, int] = {}
    streams: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        streams[event["streamid"]].append(event)
    previous: dict[str, str] = {}
    for stream in streams.values():
        stream.sort(key=lambda e: int(e["streamversion"]))
        for before, event in pairwise(stream):
            previous[event["id"]] = before["id"]
    for event in events:
        candidates = (str(event.get("causationid", "")), previous.get(event["id"], ""))
        parents = {p for p in candidates if p in by_id and p != event["id"]}
        waiting[event["id"]] = len(parents)
        for parent in parents:
            after[parent].append(event["id"])

    def rank(event: dict[str, Any]) -> tuple[str, str, int]:
        return (event["time"], event["streamid"], int(event["streamversion"]))

    ready = [(rank(e), e["id"]) for e in events if waiting[e["id"]] == 0]
    heapq.heapify(ready)
    ordered: list[dict[str, Any]] = []
    while ready:
        _, event_id = heapq.heappop(ready)
        ordered.append(by_id[event_id])
        for child in after[event_id]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, (rank(by_id[child]), child))
    placed = {e["id"] for e in ordered}
    return ordered + sorted((e for e in events if e["id"] not in placed), key=rank)  # a cycle: by time


async def timeline(bootstrap: str, topics: list[str], dossier: str, *, as_json: bool) -> int:
    events = await read_events(bootstrap, topics, f"timeline of {dossier}")
    dossiers = related_dossiers(events, dossier)
    mine = [e for e in events if e.get("subject") in dossiers or (e.get("data") or {}).get("dossier_id") in dossiers]
    ordered = causal_order(mine)
    names = {e["id"]: e["type"] for e in ordered}
    if as_json:
        for event in ordered:
            print(json.dumps(event, ensure_ascii=False))
    else:
        table(["time (Vietnam)", "service", "stream", "v", "actor", "caused by", "event"], [
            (datetime.fromisoformat(e["time"]).astimezone(VIETNAM).strftime("%Y-%m-%d %H:%M:%S"),
             e["source"].rsplit("/", 1)[-1], e["streamid"], e["streamversion"], e["actorid"],
             names.get(e.get("causationid", ""), "-"), f"{e['type']} {e['id']}") for e in ordered], sys.stdout)
    print(f"[audit] {len(ordered)} event(s) of {len(dossiers)} dossier(s): {', '.join(sorted(dossiers))}",
          file=sys.stderr)
    return 0 if ordered else 1


OUTCOME = ("average_total", "rating_label", "stars", "passed", "recognised_at_level", "goes_up_a_level")


async def what_if(bootstrap: str, topics: list[str], round_id: str, rulebook_ref: str, *, as_json: bool,
                  rulebooks: Rulebooks | None = None) -> int:
    """Each completed dossier of the round, re-aggregated from the sheets that counted under ``ID@VERSION``:
    what it was, what it would be. Nothing is written anywhere."""
    rulebook_id, _, version = rulebook_ref.partition("@")
    other = (rulebooks or Rulebooks.load()).get(rulebook_id, int(version)) if version.isdigit() else None
    if other is None:
        print(f"no rulebook {rulebook_ref!r} (expected ID@VERSION of a bundled or archived rulebook)", file=sys.stderr)
        return 2
    events = await read_events(bootstrap, [t for t in topics if t.endswith("scoring.events")], f"round {round_id}")
    streams: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        streams[event["streamid"]].append(event)
    rows: list[dict[str, Any]] = []
    for stream in streams.values():
        stream.sort(key=lambda e: int(e["streamversion"]))
        completed = [i for i, e in enumerate(stream) if e["type"] == "scoring.completed"]
        if not completed or stream[completed[-1]]["data"]["round_id"] != round_id:
            continue
        done = stream[completed[-1]]
        state = None
        for event in stream[:completed[-1]]:
            state = evolve(state, recorded(event))
        assert state is not None
        if done["data"].get("sealing_key"):  # sealed sheets (ADR 0036): opened by the key completion revealed
            state = unsealed(state, DossierKey.from_revealed(done["data"]["sealing_key"]))
        row: dict[str, Any] = {"dossier_id": done["data"]["dossier_id"], "product": state.opened.product_name,
                               "before": {k: done["data"].get(k) for k in OUTCOME}}
        sheet = other.sheet_for(state.opened.product_group)
        sheets = state.current_sheets()
        counted = {m: points for m in done["data"]["totals"] if m in sheets
                   and (points := sheets[m].scores) is not None}
        try:
            if sheet is None:
                raise ValueError(f"product group {state.opened.product_group!r} has no sheet")
            codes = {c.code for c in sheet.criteria}
            if any(set(points) != codes for points in counted.values()):
                raise ValueError(f"sheet {sheet.id} has other criteria than the sheets scored")
            result = aggregate(other, sheet, state.opened.level, counted)
            row["after"] = {k: getattr(result, k) for k in OUTCOME}
        except ValueError as exc:
            row["after"] = None
            row["why"] = str(exc)
        row["changed"] = row["after"] is not None and row["after"] != row["before"]
        rows.append(row)
    rows.sort(key=lambda r: r["product"])
    if as_json:
        print(json.dumps({"round_id": round_id, "rulebook": rulebook_ref, "rows": rows}, ensure_ascii=False))
    else:
        def outcome(o: dict[str, Any] | None) -> str:
            if o is None:
                return "-"
            return (f"{o['average_total']} {o['rating_label']}" + (" recognised" if o["recognised_at_level"] else "")
                    + (" goes up" if o["goes_up_a_level"] else ""))

        table(["dossier", "product", "under the recorded rulebook", "changes", f"under {rulebook_ref}"], [
            (r["dossier_id"], r["product"], outcome(r["before"]), "CHANGES" if r["changed"] else "same",
             outcome(r["after"]) if r["after"] is not None else f"cannot: {r['why']}") for r in rows], sys.stdout)
    changed = sum(r["changed"] for r in rows)
    print(f"[audit] what-if {round_id} under {rulebook_ref}: {changed} of {len(rows)} dossier(s) would change "
          "(nothing was written)", file=sys.stderr)
    return 0
