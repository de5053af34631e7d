"""Evaluation by code (issue 16): where the rulebook says its sheet names the product by its selection code (mã
số bình chọn, ``evaluated_by_code``), what a judge or the chair reads of a dossier shows the code and the product,
never the producer; the round's staff (secretariat, approvers, auditors) still see who it is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scoring.domain.rulebook import Rulebook


def _unnamed(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Every ``producer…`` field gone (name, address, registration number): what names who made the product."""
    return {k: v for k, v in fields.items() if not k.startswith("producer")}


def as_judges_see(doc: Mapping[str, Any], book: Rulebook | None) -> dict[str, Any]:
    """``doc`` as a panel member reads it under ``book`` (the version the dossier is scored under; None: one no
    longer loadable, read as not by code). Its ``sample_code`` is the selection code intake gave on acceptance."""
    if book is None or not book.evaluated_by_code:
        return dict(doc)
    seen = _unnamed(doc) | {"evaluated_by_code": True}
    if isinstance(doc.get("decision"), Mapping):  # the authority's decision repeats the producer (result.approved)
        seen["decision"] = _unnamed(doc["decision"])
    return seen
