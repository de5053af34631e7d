"""Competent authorities (cơ quan có thẩm quyền) as stable ids, so that who may decide, what a certificate says
and how it is numbered never rest on text someone typed (ADR 0029).

An authority is the one over a round's area at the round's level, named by the GSO code of that area:
``national``, ``region:<region_code>``, ``province:<province_code>``, ``district:<district_code>``,
``commune:<commune_code>``. A district or commune round opened before rounds named their district or commune
(round.opened v1/v2) is known only by its province: ``district-of-province:<province_code>`` (and
``commune-of-province:…``), an authority granted explicitly to whoever approves those rounds.

An approver's token lists the ids they act for (claim ``authorities``)."""

from __future__ import annotations

from binhchon_kit.contracts.common import AuthorityId, Level

__all__ = ["AuthorityId", "acts_for", "authority_id", "number_prefix"]

# letters of a certificate number's prefix, one set per kind, none a prefix of another's before the dot
_PREFIX = {"national": "TW", "region": "KV", "province": "T", "district": "H", "commune": "X",
           "district-of-province": "HT", "commune-of-province": "XT"}


def authority_id(level: Level, *, province_code: str | None = None, district_code: str | None = None,
                 commune_code: str | None = None, region_code: str | None = None) -> str | None:
    """The id of the authority over this area at this level; None when the area does not say enough to know it
    (a round whose level needs a code it lacks: intake refuses to open such a round)."""
    match level:
        case Level.NATIONAL:
            return "national"
        case Level.REGION:
            return f"region:{region_code}" if region_code else None
        case Level.PROVINCE:
            return f"province:{province_code}" if province_code else None
        case Level.DISTRICT | Level.COMMUNE:
            own = district_code if level is Level.DISTRICT else commune_code
            if own:
                return f"{level.value}:{own}"
            return f"{level.value}-of-province:{province_code}" if province_code else None
    return None


def number_prefix(authority: str) -> str:
    """The prefix of a certificate number issued by this authority: one per authority, and never one an earlier
    number could have (those were initials of the authority's name, letters and digits only): ``T.24``,
    ``H.218``, ``KV.MB``; the country's ``TW`` (initials cannot give it: Vietnamese has no W)."""
    kind, _, code = authority.partition(":")
    return f"{_PREFIX[kind]}.{code}" if code else _PREFIX[kind]


def acts_for(authorities: frozenset[str], authority: str | None) -> bool:
    """Whether someone acting for ``authorities`` may act for ``authority`` (an unknown authority: no one)."""
    return authority is not None and authority in authorities
