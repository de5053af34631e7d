"""Certificates (giấy chứng nhận): issued from a recognised approved result, signed, superseded by a newer
rating of the same product, revoked with a reason, announced 30 days before they end, expired."""

from __future__ import annotations

import calendar
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from binhchon_kit.authorities import acts_for, authority_id, number_prefix
from binhchon_kit.contracts.certification import (
    CertificateExpired,
    CertificateExpiring,
    CertificateIssued,
    CertificateRevoked,
    CertificateSuperseded,
    Holder,
)
from binhchon_kit.contracts.common import Level
from binhchon_kit.events import RecordedEvent, deterministic_id
from binhchon_kit.folding import replay
from certification.domain.errors import Refused

EXPIRING_NOTICE = timedelta(days=30)  # DOMAIN.md §1.6: the holder is told at least 30 days before expiry
VALID, SUPERSEDED, REVOKED, EXPIRED = "valid", "superseded", "revoked", "expired"


def certificate_id_for(result_event_id: str) -> str:
    """One approved result, one certificate: the id follows from the result event's id."""
    return "certificate-" + deterministic_id("certificate", result_event_id)


def authority_code(authority: str) -> str:
    """'UBND tỉnh Bắc Giang' → 'UBNDTBG': upper-case words kept whole, other words by their initial. Only for
    decisions recorded before authorities had ids: two authorities could share one (UBND huyện Lục Ngạn and
    UBND huyện Lục Nam are both UBNDHLN), so every later number takes its prefix from the authority's id."""
    ascii_text = unicodedata.normalize("NFKD", authority.replace("Đ", "D").replace("đ", "d"))
    ascii_text = "".join(ch for ch in ascii_text if not unicodedata.combining(ch))
    words = [w for w in ascii_text.replace("-", " ").split() if w.isalnum()]
    return "".join(w if w.isupper() and len(w) > 1 else w[0].upper() for w in words)[:16] or "X"


def numbering(programme: str, decision: Mapping[str, Any], year: int) -> tuple[str, str]:
    """The sequence a certificate's number is taken from, and the number's prefix (ADR 0029): per issuing
    authority and the decision's year. An authority id makes both (``OCOP-T.24-2026``); a decision recorded
    before ids (result.approved v1) keeps the initials of the authority's name, as its numbers always had."""
    if authority := decision.get("authority_id"):
        return f"{programme}-{authority}-{year}", f"{programme}-{number_prefix(authority)}-{year}"
    code = f"{programme}-{authority_code(decision['authority'])}-{year}"
    return code, code


def number_for(prefix: str, sequence: int) -> str:
    return f"{prefix}-{sequence:05d}"


def issuing_authority(issued: Mapping[str, Any]) -> str | None:
    """The id of the authority that issued (and may revoke) a certificate: its decision's; a certificate from
    before ids has the authority over its level and province (a district's: the province's older district
    rounds, ``district-of-province:<code>``), and a region's none (only its area's codes would say which)."""
    if authority := issued["decision"].get("authority_id"):
        return str(authority)
    level = Level(issued["level"])
    if level is Level.REGION:
        return None
    return authority_id(level, province_code=issued.get("province_code"))


def revocation_refusal(issued: Mapping[str, Any], acting_for: frozenset[str]) -> Refused | None:
    """Why this approver may not revoke this certificate, if they may not: only its issuing authority revokes."""
    authority = issuing_authority(issued)
    if acts_for(acting_for, authority):
        return None
    return Refused(f"certificate {issued['number']} was issued by {issued['issuer']}"
                   + (f" ({authority})" if authority else "") + "; your token does not act for it",
                   kind="forbidden", reason="not_this_authority", authority_id=authority,
                   your_authorities=sorted(acting_for))


def normalised(text: str) -> str:
    """Text compared as people mean it: NFC, case folded, runs of whitespace as one space."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def product_key(programme: str, registration_number: str | None, product_name: str) -> str | None:
    """The same product of the same producer in the same programme, whatever the round: its newer rating
    supersedes the older. Identity is the producer's registration number; without one (events from before it
    was carried) there is no key and nothing is superseded, because a name is not identity: two cooperatives
    of the same name in two provinces are two producers, and guessing would end the other's valid certificate."""
    if not registration_number:
        return None
    return deterministic_id("product", programme, registration_number.strip().upper(), normalised(product_name))


def rank(decided_on: date, approved_at: datetime, result_event_id: str) -> str:
    """The order of a product's ratings, as one string that sorts as it should: the later decision wins, whatever
    order the results arrive in (a late consumer or a replay may bring the older one last); on the same day, the
    one approved later; the result event's id settles the rest. The same result always has the same rank, so two
    replicas and a redelivery agree on it."""
    moment = approved_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{decided_on.isoformat()}|{moment}|{result_event_id}"


def add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def decision_date(result: Mapping[str, Any]) -> date:
    return date.fromisoformat(str(result["decision"]["date"]))


def valid_until(decided_on: date, months: int | None) -> date | None:
    """Validity counts from the recognition decision (not from the day a certificate happens to be printed):
    a certificate issued late for an old decision ends when the decision's validity ends."""
    return add_months(decided_on, months) if months else None


def content(result: Mapping[str, Any], *, certificate_id: str, number: str, issued_on: date,
            result_event_id: str, supersedes: str | None) -> dict[str, Any]:
    """What the certificate says (and what the signature covers), from the approved result. ``issued_on`` is
    the day of issue; the validity runs from the decision's date.

    The holder's registration number is left out (null): for a household producer it is a personal identifier,
    and signed content can never be erased. Certification keeps it in its own read model (``holders``)."""
    until = valid_until(decision_date(result), result.get("certificate_validity_months"))
    return {
        "certificate_id": certificate_id, "number": number, "dossier_id": result["dossier_id"],
        "round_id": result["round_id"], "programme": result["programme"], "level": result["level"],
        "product_name": result["product_name"],
        "holder": {"name": result["producer_name"], "address": result.get("producer_address") or "",
                   "registration_number": None},
        "rating_label": result["rating"]["label"], "stars": result["rating"].get("stars"),
        "points": result["points"], "decision": result["decision"], "issued_on": issued_on.isoformat(),
        "valid_until": until.isoformat() if until else None,
        "issuer": result["decision"]["authority"], "rulebook_id": result["rulebook_id"],
        "result_event_id": result_event_id, "supersedes": supersedes, "province_code": result.get("province_code"),
    }


@dataclass(frozen=True)
class Certificate:
    stream: str
    version: int
    issued: dict[str, Any]
    status: str = VALID
    superseded_by: str | None = None
    revoked: dict[str, Any] | None = None
    expiring_told: bool = False
    expired_told: bool = False

    @property
    def valid_until(self) -> date | None:
        value = self.issued.get("valid_until")
        return date.fromisoformat(value) if value else None

    def status_on(self, today: date) -> str:
        if self.status != VALID:
            return self.status
        if self.valid_until is not None and today > self.valid_until:
            return EXPIRED
        return VALID


def evolve(state: Certificate | None, event: RecordedEvent) -> Certificate:
    """The certificate after ``event``, chosen by the event's class."""
    match data := event.model():
        case CertificateIssued():
            return Certificate(stream=event.stream, version=event.version, issued=event.data)
    assert state is not None, f"{event.type} before the certificate was issued"
    state = replace(state, version=event.version)
    match data:
        case CertificateSuperseded(superseded_by=successor):
            return replace(state, status=SUPERSEDED if state.status == VALID else state.status,
                           superseded_by=successor)
        case CertificateRevoked():
            return replace(state, status=REVOKED, revoked=event.data)
        case CertificateExpiring():
            return replace(state, expiring_told=True)
        case CertificateExpired():
            # past its end there is nothing left to announce: an "expiring" not given by then never will be
            return replace(state, status=EXPIRED if state.status == VALID else state.status, expired_told=True,
                           expiring_told=True)
    return state


def revoke(state: Certificate, reason: str, today: date) -> CertificateRevoked:
    if state.status == REVOKED:
        raise Refused(f"certificate {state.issued['number']} is already revoked", current_status=state.status)
    return CertificateRevoked(number=state.issued["number"], reason=reason, revoked_on=today)


def notices_due(state: Certificate, today: date) -> list[CertificateExpiring | CertificateExpired]:
    """The expiry notices this certificate is owed today, each given once (the caller records them with an id
    derived from the certificate and the notice, so a second replica's attempt collides). A certificate already
    past its end (issued late for an old decision, or a sweep that missed the 30 days) is told only that it
    expired: "it will end on …" after it has ended would be a second, wrong message."""
    until = state.valid_until
    if until is None or state.status not in (VALID, EXPIRED):
        return []
    due: list[CertificateExpiring | CertificateExpired] = []
    number = state.issued["number"]
    if today > until:
        if not state.expired_told:
            due.append(CertificateExpired(number=number, valid_until=until))
        return due
    if not state.expiring_told and today >= until - EXPIRING_NOTICE:
        due.append(CertificateExpiring(
            number=number, valid_until=until, holder=Holder.model_validate(state.issued["holder"]),
            product_name=state.issued["product_name"]))
    return due


def page_key(issued: Mapping[str, Any]) -> str:
    """Where a certificate stands in its lists (ADR 0015): by day of issue, then number (unique, ASCII)."""
    return f"{issued['issued_on']}|{issued['number']}"


def recognition_year(issued: Mapping[str, Any]) -> int:
    """The year of recognition, as in the number: the decision's."""
    return int(str(issued["decision"]["date"])[:4])


# The registry's filters that narrow it, and every combination of them, each with its own key (ADR 0015): the
# filters' values in this order, each then ``|``, then the certificate's place. A page walks the key of exactly
# the filters it is asked, so only the rows of that combination, newest first, with no filter tested row by row
# on the way: a year tested on a province's walk passes all of that province's newer years first, and a rare
# star rating (5 stars: a few products in a hundred) would be looked for among all. Programme and status keep no
# key: they narrow little. The first two keys keep their names.
FILTER_KEYS: dict[tuple[str, ...], str] = {
    ("province_code", "stars", "year"): "province_stars_year_page_key",
    ("province_code", "year"): "province_year_page_key",
    ("province_code", "stars"): "province_stars_page_key",
    ("stars", "year"): "stars_year_page_key",
    ("province_code",): "province_page_key",
    ("year",): "year_page_key",
    ("stars",): "stars_page_key",
}


def filter_keys(issued: Mapping[str, Any]) -> dict[str, str]:
    """The registry's keys for its filters and their combinations (``FILTER_KEYS``), as a page asks them
    (``paging.walked_key``): ``"24|2025|2025-03-05|OCOP-…"`` for province 24's certificates of 2025."""
    place = page_key(issued)
    values = {"province_code": issued.get("province_code") or "", "stars": issued.get("stars") or "",
              "year": recognition_year(issued)}
    return {key: "".join(f"{values[name]}|" for name in names) + place for names, key in FILTER_KEYS.items()}


def fold_certificate(events: Sequence[RecordedEvent]) -> dict[str, Any]:
    state = replay(evolve, events)
    assert state is not None
    issued = state.issued
    return {**issued, "status": state.status, "superseded_by": state.superseded_by, "revoked": state.revoked,
            "expiring_told": state.expiring_told, "expired_told": state.expired_told,
            "year": recognition_year(issued), "page_key": page_key(issued), **filter_keys(issued)}
