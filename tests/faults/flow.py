"""A season of N dossiers at two levels, played through the services' HTTP ports while a fault strikes.

Two district OCOP rounds under a province round: every dossier is submitted, checked (accepted), scored by a
council of seven, proposed by the chair and approved by the district; the products of 4 and 5 stars go up to
the province, whose council scores them and whose committee decides; certification issues a certificate for each
recognised result and notify mails the producers, the councils and their chairs. The building blocks are
``binhchon_tools.scenario``'s (bodies, sheets, tokens); what this adds is concurrency (a bounded pool, so two
cores finish in minutes) and patience: a call cut by a fault (connection refused, 5xx) is asked again, and a 409
on a retried call means the first attempt had been recorded, never a failure of the flow.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx

from binhchon_kit.testing.documents import sample_contents
from binhchon_kit.testing.samples import round_body
from binhchon_kit.vietnam_time import today_in_vietnam
from binhchon_tools.demo import Refused, auth_with, ok
from binhchon_tools.scenario import Producer, producer_body, sheet
from intake.domain.dossiers import unverified_dossier_id_for

from .system import System

DISTRICTS = (("219", "Huyện Lục Ngạn"), ("220", "Huyện Lục Nam"))
# the council's mean total per dossier, cycled: 2 in 10 go up (a 5-star one on to the national round), 7 are
# recognised with 3 stars by their district, 1 is not recognised; members score a point either side
TARGETS = (93, 81, 66, 64, 61, 57, 55, 53, 52, 46)
RETRIED = (500, 502, 503, 504)


@dataclass
class Dossier:
    id: str
    district: tuple[str, str]
    target: int
    group: str = "thực phẩm"
    escalated: str | None = None  # its dossier in the province round


@dataclass
class Flow:
    system: System
    n: int = 100
    concurrency: int = 6
    patience: float = 300  # seconds one call may be retried (a broker down 60 s, a store down 30 s, a restart)
    rng: random.Random = field(default_factory=lambda: random.Random(41))
    dossiers: list[Dossier] = field(default_factory=list)
    rounds: dict[str, str] = field(default_factory=dict)
    progress: int = 0  # calls answered: a fault strikes when this passes its mark
    answers: Counter[int] = field(default_factory=Counter)  # statuses answered, retried ones included
    seconds: float = 0.0
    races: int = 0  # 409s for a stream's version, asked again

    def __post_init__(self) -> None:
        self.run = self.system.run.upper()
        self.auth = auth_with(self.system.token_key.read_bytes())
        self.sec = self.auth("thuky-faults", "secretariat")
        self.lock = threading.Lock()
        self.clients = {s: [httpx.Client(base_url=u, timeout=60) for u in self.system.urls(s)]
                        for s in ("intake", "scoring", "certification", "notify")}

    @property
    def expected_calls(self) -> int:
        """About how many calls the flow makes (a fault's mark is a fraction of it)."""
        up = sum(t >= 70 for t in self._targets())
        return 3 * self.n + 7 * self.n + 2 * up + 7 * up

    def _targets(self) -> list[int]:
        return [TARGETS[i % len(TARGETS)] for i in range(self.n)]

    # ---- calls -----------------------------------------------------------------------------------------------

    def call(self, service: str, method: str, path: str, *, headers: dict[str, str], done_on_409: bool = False,
             **kwargs: Any) -> Any:
        """The answer of the first attempt that gets one that is not a fault's: connection errors and 5xx are
        asked again (the same request: every command here is safe to repeat) until ``patience`` runs out."""
        deadline, retried, why = time.monotonic() + self.patience, False, ""
        while True:
            client = self.rng.choice(self.clients[service])
            try:
                r = client.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                why = f"{type(exc).__name__}: {exc}"
            else:
                with self.lock:
                    self.answers[r.status_code] += 1
                # a command that lost the race for its stream (two judges' sheets on one dossier at once) is
                # refused with the stream's version: asked again, as a client is told to
                lost_race = r.status_code == 409 and "current_version" in r.text
                if lost_race:
                    with self.lock:
                        self.races += 1
                if r.status_code not in RETRIED and not lost_race:
                    if r.status_code == 409 and retried and done_on_409:
                        return r.json()
                    with self.lock:
                        self.progress += 1
                    return ok(r)
                why = f"{r.status_code} {r.text[:300]}"
            if time.monotonic() > deadline:
                raise Refused(f"{method} {service}{path}: no answer but faults for {self.patience:.0f} s: {why}")
            retried = True
            time.sleep(0.5)

    def wait(self, what: str, probe: Callable[[], Any], seconds: float | None = None) -> Any:
        deadline = time.monotonic() + (seconds or self.patience)
        while True:
            answer = probe()
            if answer:
                return answer
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.5)

    def each(self, work: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(work, items))

    # ---- the season ------------------------------------------------------------------------------------------

    def play(self) -> None:
        started = time.monotonic()
        self.stages: dict[str, float] = {}

        def done(stage: str) -> None:
            self.stages[stage] = round(time.monotonic() - started, 1)

        self.open_rounds()
        panels = {name: self.form_panel(name, f"hd-{code}") for code, name in DISTRICTS}
        panels["Tỉnh"] = self.form_panel("Tỉnh", "hd-24")
        done("rounds and panels")
        self.each(self.submit, list(enumerate(self._targets())))
        self.each(lambda d: self.accept(d.id, d.group, d.id[-6:]), self.dossiers)
        done("submitted and accepted")
        for code, name in DISTRICTS:
            mine = [d.id for d in self.dossiers if d.district[0] == code]
            self.score_round(name, panels[name], mine)
            self.decide(name, panels[name][0], f"UBND {name.lower()}", f"district:{code}")
            done(f"{name} decided")
        going_up = [d for d in self.dossiers if d.target >= 70]
        self.escalations(going_up)
        self.each(lambda d: self.accept(d.escalated, d.group, f"P{d.escalated[-6:]}"), going_up)
        done("escalated and accepted")
        self.score_round("Tỉnh", panels["Tỉnh"], [d.escalated for d in going_up if d.escalated])
        self.decide("Tỉnh", panels["Tỉnh"][0], "UBND tỉnh Bắc Giang", "province:24")
        done("province decided")
        self.certificates()
        done("certificates issued")
        self.seconds = time.monotonic() - started

    @property
    def recognised(self) -> int:
        """Results recognised where decided: 3 stars at the districts, 4 at the province (5 go on to national)."""
        return sum(50 <= d.target < 70 or 70 <= d.target < 90 for d in self.dossiers)

    def open_rounds(self) -> None:
        for name, content in sample_contents():  # what every dossier lists, stored by content (ADR 0045)
            self.call("intake", "POST", "/documents", headers=self.auth("producer-documents", "applicant"),
                      files={"file": (name, content, "application/pdf")})

        def opened(code: str, **over: Any) -> str:
            return str(self.call("intake", "POST", "/rounds", headers=self.sec, json=round_body(
                f"{code}-{self.run}", rulebook_id="ocop-2023", **over))["round_id"])

        self.rounds["Trung ương"] = opened("TW", level="national", area={},
                                           organiser="Bộ Nông nghiệp và Môi trường")
        self.rounds["Tỉnh"] = opened("BG", level="province", parent_round_id=self.rounds["Trung ương"])
        for code, name in DISTRICTS:
            self.rounds[name] = opened(f"H{code}", level="district", parent_round_id=self.rounds["Tỉnh"],
                                       area={"province_code": "24", "district_code": code},
                                       organiser=f"UBND {name.lower()}")

    def form_panel(self, round_name: str, who: str) -> list[str]:
        members = [f"{who}-{k}" for k in range(1, 8)]
        body = {"name": f"Hội đồng {round_name}",
                "members": [{"id": m, "name": f"Thành viên {k}", "organisation": f"UBND {round_name}",
                             "role": "chair" if k == 1 else "member",
                             "email": f"{m}.{self.run.lower()}@example.vn"} for k, m in enumerate(members, start=1)],
                "quorum": {"fraction": 0.75, "chair_required": True}, "sessions": ["dossier", "samples"]}

        def formed() -> Any:
            try:
                return self.call("scoring", "POST", f"/rounds/{self.rounds[round_name]}/panel", headers=self.sec,
                                 json=body, done_on_409=True)
            except Refused as refused:
                if "has not heard of round" in str(refused):
                    return None
                raise

        self.wait(f"scoring to hear of round {round_name}", formed)
        return members

    def submit(self, numbered: tuple[int, int]) -> None:
        i, target = numbered
        district = DISTRICTS[i % len(DISTRICTS)]
        p = Producer(f"Hợp tác xã số {i}", "cooperative", "Xã Đông Hưng", f"Người đại diện {i}",
                     f"Sản phẩm {i} của {self.run}", "thực phẩm", target)
        body = producer_body(p, district, i, self.run)
        body["producer"]["contact"]["email"] = f"p{i}.{self.run.lower()}@example.vn"
        producer = self.auth(f"producer-{i}", "applicant")
        receipt = self.call("intake", "POST", f"/rounds/{self.rounds[district[1]]}/dossiers", headers=producer,
                            json=body, done_on_409=True)
        # a repeat's 409 names no dossier (ADR 0037: it may be another account's); an account not verified for its
        # producer, as every one here, files under an id of its own, which the flow can compute: an attempt
        # recorded but unanswered (a fault, or a busy machine's client timeout) is found under it
        dossier = receipt.get("dossier_id") or unverified_dossier_id_for(
            self.rounds[district[1]], body["producer"]["registration_number"], p.product, f"producer-{i}")
        with self.lock:
            self.dossiers.append(Dossier(dossier, district, target))

    def accept(self, dossier: str | None, group: str, sample: str) -> None:
        self.call("intake", "POST", f"/dossiers/{dossier}/accept", headers=self.sec, done_on_409=True,
                  json={"product_group": group, "sample_code": f"OCOP-{sample}"})

    def score_round(self, round_name: str, members: list[str], dossiers: list[str]) -> None:
        round_id = self.rounds[round_name]

        def opened() -> bool:
            seen, cursor = 0, None
            while True:
                page = self.call("scoring", "GET", f"/rounds/{round_id}/dossiers", headers=self.sec,
                                 params={"limit": 100, **({"after": cursor} if cursor else {})})
                seen += len(page["items"])
                cursor = page.get("next")
                if not cursor:
                    return seen >= len(dossiers)

        self.wait(f"scoring to open the {len(dossiers)} dossiers of {round_name}", opened)
        rulebook = self.call("scoring", "GET", "/rulebooks/ocop-2023", headers={})
        full = {c["code"]: c["maximum"] for c in rulebook["sheets"][0]["criteria"]}
        targets = {d.escalated or "": d.target for d in self.dossiers} | {d.id: d.target for d in self.dossiers}

        def score(pair: tuple[str, int]) -> None:
            dossier, k = pair
            headers = self.auth(members[k], "council_chair" if k == 0 else "judge")
            self.call("scoring", "POST", f"/dossiers/{dossier}/score-sheets", headers=headers, done_on_409=True,
                      json={"scores": sheet(full, targets[dossier] + (k % 3) - 1)})

        self.each(score, [(d, k) for k in range(len(members)) for d in dossiers])

    def decide(self, round_name: str, chair: str, authority: str, authority_id: str) -> None:
        round_id = self.rounds[round_name]
        proposal = self.wait(f"the proposal of {round_name}", lambda: self._propose(round_id, chair))
        approver = self.auth(f"ubnd-{chair}", "approver", authorities=(authority_id,))
        self.call("scoring", "POST", f"/proposals/{proposal}/approval", headers=approver, done_on_409=True,
                  json={"decision": {"number": f"{self.run}-{len(round_name)}/QĐ-UBND",
                                     "date": today_in_vietnam().isoformat(), "signer": "Phó Chủ tịch UBND",
                                     "authority": authority}})

    def _propose(self, round_id: str, chair: str) -> str | None:
        """The chair's proposal; if the answer was lost to a fault but the proposal recorded, the one on the
        topic (scoring answers 409: nothing left to propose)."""
        try:
            return str(self.call("scoring", "POST", f"/rounds/{round_id}/proposals",
                                 headers=self.auth(chair, "council_chair"))["proposal_id"])
        except Refused as refused:
            if "awaits a decision" not in str(refused):
                raise
        from .checker import proposals_on_topic  # the topic is the record when the answer was lost

        found = proposals_on_topic(self.system, round_id)
        return found[-1] if found else None

    def escalations(self, going_up: list[Dossier]) -> None:
        province = self.rounds["Tỉnh"]

        def arrived() -> bool:
            items = self._all(f"/dossiers?round_id={province}")
            origins = {i["escalated_from"]["dossier_id"]: i["dossier_id"] for i in items if i.get("escalated_from")}
            for d in going_up:
                d.escalated = origins.get(d.id)
            return all(d.escalated for d in going_up)

        self.wait(f"intake to open {len(going_up)} dossiers in the province round", arrived)

    def _all(self, path: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            sep = "&" if "?" in path else "?"
            page = self.call("intake", "GET", f"{path}{sep}limit=100" + (f"&after={cursor}" if cursor else ""),
                             headers=self.sec)
            items += page["items"]
            cursor = page.get("next")
            if not cursor:
                return items

    def certificates(self) -> None:
        """Wait until certification has issued as many certificates as results were recognised."""
        expected = self.recognised

        def issued() -> bool:
            total = 0
            for name in [n for _, n in DISTRICTS] + ["Tỉnh"]:
                cursor = None
                while True:
                    page = self.call("certification", "GET", "/certificates", headers=self.sec, params={
                        "round_id": self.rounds[name], "limit": 100, **({"after": cursor} if cursor else {})})
                    total += len(page["items"])
                    cursor = page.get("next")
                    if not cursor:
                        break
            return total >= expected

        self.wait(f"{expected} certificates", issued)

    def close(self) -> None:
        for clients in self.clients.values():
            for c in clients:
                c.close()

