"""What the council's page and browser tests share: intake and scoring under uvicorn on this run's broker and
store, a province round under ocop-2023 (decided by the UBND tỉnh Bắc Giang) with its panel, dossiers filed and
accepted through the APIs with minted tokens, and the portal in front with its development sign-in."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from binhchon_kit.auth.devtoken import mint
from binhchon_kit.testing.documents import upload_documents_sync
from binhchon_kit.testing.fuzz import serving
from binhchon_kit.testing.infra import free_port
from binhchon_kit.testing.samples import dossier_body, round_body
from binhchon_kit.topics import all_topics, ensure_topics
from portal.main import PortalSettings
from portal.main import build as build_portal

NOW = datetime(2026, 11, 22, 23, 26, tzinfo=UTC)  # 06:26 on 23/11 in Hà Nội
TODAY = date(2026, 11, 23)
SERVICES = ("intake", "scoring", "certification", "notify")
CHAIR, MEMBERS = "cm-1", ("cm-2", "cm-3", "cm-4", "cm-5")
APPROVER, AUTHORITY = "ubnd-bg", "province:24"
# ocop-2023's general sheet at its best, and a sheet 2 points lower in A1
FULL = {"A1": 5, "A2": 3, "A3": 5, "A4": 5, "A5": 5, "A6": 5, "A7": 5, "A8": 7, "B1": 10, "B2": 5, "B3": 5,
        "B4": 5, "C1": 10, "C2": 5, "C3": 5, "C4": 10, "C5": 5}


def panel_body(name: str, chair: str, members: tuple[str, ...]) -> dict[str, Any]:
    people = [{"id": chair, "name": "Trần Văn Chủ", "organisation": "UBND tỉnh", "role": "chair"}]
    people += [{"id": m, "name": f"Thành viên {m}", "organisation": "Sở Nông nghiệp và Môi trường",
                "role": "member"} for m in members]
    return {"name": name, "members": people, "quorum": {"fraction": 0.75, "chair_required": True},
            "spread_threshold": 10}


@dataclass
class Stack:
    urls: dict[str, str]
    key: bytes
    portal: str = ""
    rounds: dict[str, str] = field(default_factory=dict)

    def token(self, subject: str, *roles: str, authorities: tuple[str, ...] = ()) -> dict[str, str]:
        return {"authorization": "Bearer " + mint(self.key, subject=subject, roles=list(roles), hours=1,
                                                  authorities=list(authorities) or None)}

    def client(self, service: str, subject: str, *roles: str) -> httpx.Client:
        return httpx.Client(base_url=self.urls[service], headers=self.token(subject, *roles), timeout=30)

    def open_round(self, code: str, panel_name: str, chair: str, members: tuple[str, ...]) -> str:
        with self.client("intake", "to-giup-viec", "secretariat") as intake, \
                self.client("scoring", "to-giup-viec", "secretariat") as scoring:
            r = intake.post("/rounds", json=round_body(code, today=TODAY, rulebook_id="ocop-2023",
                                                       title=f"Đánh giá, phân hạng sản phẩm OCOP tỉnh Bắc Giang "
                                                             f"năm 2026 (đợt {code})"))
            assert r.status_code == 201, r.text
            round_id = r.json()["round_id"]
            r = scoring.post(f"/rounds/{round_id}/panel", json=panel_body(panel_name, chair, members))
            assert r.status_code == 201, r.text
        self.rounds[code] = round_id
        return round_id

    def accepted_dossier(self, round_id: str, product: str, sample_code: str) -> str:
        """Filed by a producer and accepted by the secretariat; returned once scoring has opened it."""
        with self.client("intake", "htx-dong-hung", "applicant") as producer, \
                self.client("intake", "to-giup-viec", "secretariat") as intake, \
                self.client("scoring", "to-giup-viec", "secretariat") as scoring:
            upload_documents_sync(producer, {})  # the sample dossier lists stored content only (ADR 0045)
            r = producer.post(f"/rounds/{round_id}/dossiers", json=dossier_body(product=product))
            assert r.status_code == 201, r.text
            dossier_id = r.json()["dossier_id"]
            r = intake.post(f"/dossiers/{dossier_id}/accept",
                            json={"product_group": "thực phẩm", "sample_code": sample_code})
            assert r.status_code == 201, r.text
            eventually(lambda: scoring.get(f"/dossiers/{dossier_id}").status_code == 200, "scoring to open it")
        return dossier_id

    def score(self, dossier_id: str, member: str, scores: dict[str, float], role: str = "judge") -> None:
        with self.client("scoring", member, role) as scoring:
            r = scoring.post(f"/dossiers/{dossier_id}/score-sheets", json={"scores": scores})
            assert r.status_code == 201, r.text


def eventually(check: Callable[[], Any], what: str, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def services(infra: Any, unique: str, key: str, names: tuple[str, ...] = ("intake", "scoring"),
             prefix: str = "c") -> Iterator[dict[str, str]]:
    """The named services, each under uvicorn on a port of its own, on this run's broker and store (topics under
    ``<prefix><unique>.``, databases ``<prefix>_<service>_<unique>``); intake first, which creates the topics."""
    from certification.main import CertificationSettings
    from certification.main import build as certification
    from intake.main import IntakeSettings
    from intake.main import build as intake
    from notify.main import NotifySettings
    from notify.main import build as notify
    from scoring.main import ScoringSettings
    from scoring.main import build as scoring

    topic_prefix = f"{prefix}{unique}."

    def common(service: str) -> dict[str, Any]:
        return {"mongodb_url": infra.mongodb, "mongodb_database": f"{prefix}_{service}_{unique}",
                "kafka_bootstrap_servers": infra.kafka, "kafka_topic_prefix": topic_prefix,
                "auth_public_keys_file": key, "log_level": "WARNING"}

    async def topics() -> None:
        await ensure_topics(infra.kafka, all_topics(topic_prefix), partitions=1)

    with contextlib.ExitStack() as stack:
        urls = {"intake": stack.enter_context(serving(intake(IntakeSettings(**common("intake")), lambda: NOW),
                                                      before=topics))}
        if "scoring" in names:
            urls["scoring"] = stack.enter_context(serving(scoring(ScoringSettings(**common("scoring")),
                                                                  clock=lambda: NOW)))
        if "certification" in names:
            port = free_port()  # the certificate's QR names the verify page at certification's own address
            urls["certification"] = stack.enter_context(serving(certification(
                CertificationSettings(**common("certification"), public_base_url=f"http://127.0.0.1:{port}"),
                clock=lambda: TODAY, now=lambda: NOW), port=port))
        if "notify" in names:
            urls["notify"] = stack.enter_context(serving(notify(
                NotifySettings(**common("notify"), smtp_port=9), clock=lambda: NOW)))
        yield urls


@contextlib.contextmanager
def council_stack(infra: Any, unique: str, dev_keys: tuple[Path, Path],
                  names: tuple[str, ...] = ("intake", "scoring")) -> Iterator[Stack]:
    """The named services (by default intake and scoring, what the council's pages call) and the portal before
    them; a service not started is an address nothing answers (the portal's readiness would say so)."""
    with services(infra, unique, str(dev_keys[1]), names) as urls:
        absent = "http://127.0.0.1:9"
        settings = PortalSettings(**{f"{name}_url": urls.get(name, absent) for name in SERVICES},
                                  portal_dev_sign_in=True, portal_local=True, log_level="WARNING")
        found = Stack(urls, dev_keys[0].read_bytes())
        with serving(build_portal(settings, clock=lambda: TODAY)) as found.portal:
            yield found


CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf(page: str) -> str:
    found = CSRF.search(page)
    assert found, "a form without its CSRF token"
    return found[1]


def signed_in(portal: str, subject: str, *roles: str, authority: str = "") -> httpx.Client:
    """A browser's session in httpx: the development sign-in page, its form posted with its CSRF token."""
    client = httpx.Client(base_url=portal, timeout=60, follow_redirects=False)
    token = csrf(client.get("/dang-nhap/thu-nghiem").text)
    r = client.post("/dang-nhap/thu-nghiem", data={"csrf": token, "subject": subject, "name": subject,
                                                   "role": list(roles), "authority": authority})
    assert r.status_code == 303, r.text
    return client
