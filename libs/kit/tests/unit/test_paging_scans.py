"""How many rows a checked page asks the store for (issue 10): FerretDB's cost grows with each row fetched, so the
first scan asks for the page and one more; only when the check dropped rows do the next scans ask for more, up to
the same rows in all as ``scans`` full batches, so a page and its cursor do not change."""

from __future__ import annotations

from typing import Any

from binhchon_kit import paging


class Rows:
    """A sorted collection's ``find`` as the pages use it (a key range, descending sort, a limit), recording the
    limits asked."""

    def __init__(self, keys: list[str]) -> None:
        self.docs = [{"page_key": k, "n": i} for i, k in enumerate(sorted(keys, reverse=True))]
        self.limits: list[int] = []

    def find(self, query: dict[str, Any], projection: Any = None, sort: Any = None, limit: int = 0) -> Any:
        self.limits.append(limit)
        bound = query["page_key"].get("$lt")
        found = [d for d in self.docs if bound is None or d["page_key"] < bound][:limit]

        class Cursor:
            async def to_list(self) -> list[dict[str, Any]]:
                return found

        return Cursor()


async def test_a_page_no_row_of_which_is_dropped_asks_for_one_more_row_only() -> None:
    rows = Rows([f"2026-01-{n:02d}|c{n}" for n in range(1, 29)])
    page = await paging.page(rows, equals={}, after=None, limit=20, descending=True, keep=lambda d: True)
    assert rows.limits == [21]
    assert len(page.items) == 20 and page.next is not None


async def test_dropped_rows_are_made_up_by_larger_scans_to_the_same_bound_as_before() -> None:
    rows = Rows([f"2026-01-{n:02d}|c{n}" for n in range(1, 29)])
    # limit 2: a batch is 2 + 1 + 4 = 7 rows, 2 scans are 14 rows: asked 3, then 7, then the 4 left of 14
    page = await paging.page(rows, equals={}, after=None, limit=2, descending=True, keep=lambda d: False, scans=2)
    assert rows.limits == [3, 7, 4]
    assert page.items == [] and paging.decode_cursor(page.next or "") == rows.docs[13]["page_key"]
    # rows dropped then kept: the page is the first two kept, in key order
    rows.limits.clear()
    page = await paging.page(rows, equals={}, after=None, limit=2, descending=True, keep=lambda d: d["n"] >= 5)
    assert [d["n"] for d in page.items] == [5, 6] and rows.limits == [3, 7]
