"""What the audit prints: a progress line and a summary on stderr, a table (or JSON) of discrepancies on stdout.

Plain text (``rich`` is not among the project's dependencies): the progress line rewrites itself on a terminal
and prints every tenth of the way otherwise, so a CI log stays short.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from binhchon_tools.audit_findings import Findings


class Progress:
    def __init__(self, what: str, out: TextIO | None = None) -> None:
        self.what = what
        self.out = out or sys.stderr
        self.total = 0
        self.done = 0
        self.started = time.perf_counter()
        self.shown = -1.0
        self.tty = self.out.isatty()

    def start(self, total: int) -> None:
        self.total = total
        self.done, self.shown = 0, -1.0  # a read begun again from the start counts again
        self.started = time.perf_counter()
        print(f"[audit] {self.what}: {total:,} record(s) to read", file=self.out)

    def advance(self, count: int) -> None:
        self.done += count
        fraction = self.done / self.total if self.total else 1.0
        if self.tty:
            if fraction - self.shown >= 0.002 or self.done >= self.total:
                self.shown = fraction
                print(f"\r[audit] {bar(fraction)} {self.done:,}/{self.total:,}", end="", file=self.out, flush=True)
        elif int(fraction * 10) > int(self.shown * 10):
            self.shown = fraction
            print(f"[audit] {self.done:,}/{self.total:,} ({fraction:.0%})", file=self.out)

    def finish(self) -> float:
        if self.tty:
            print(file=self.out)
        return time.perf_counter() - self.started


def bar(fraction: float, width: int = 30) -> str:
    filled = int(fraction * width)
    return "[" + "#" * filled + "-" * (width - filled) + f"] {fraction:4.0%}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], out: TextIO, wrap: int = 100) -> None:
    """A plain text table, the last column wrapped."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers[:-1])]
    line = "  ".join(h.ljust(w) for h, w in zip(headers[:-1], widths, strict=True)) + "  " + headers[-1]
    print(line, file=out)
    print("-" * min(len(line) + 40, 160), file=out)
    for row in cells:
        head = "  ".join(c.ljust(w) for c, w in zip(row[:-1], widths, strict=True)) + "  "
        last = row[-1]
        chunks = [last[i:i + wrap] for i in range(0, len(last), wrap)] or [""]
        print(head + chunks[0], file=out)
        for chunk in chunks[1:]:
            print(" " * len(head) + chunk, file=out)


def report(findings: Findings, *, as_json: bool, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print the discrepancies and the summary; the exit status (1 when anything is wrong)."""
    out = out or sys.stdout
    err = err or sys.stderr
    if as_json:
        print(json.dumps({"ok": findings.ok, "summary": findings.counts, "notes": findings.notes,
                          "discrepancies": [d.as_json() for d in findings.discrepancies]}, ensure_ascii=False),
              file=out)
    elif findings.discrepancies:
        table(["check", "subject", "event ids", "discrepancy"],
              [(d.check, d.subject, ", ".join(d.event_ids) or "-", d.message) for d in findings.discrepancies], out)
    summary = ", ".join(f"{k} {v:,}" if isinstance(v, int) else f"{k} {v}" for k, v in findings.counts.items()
                        if not isinstance(v, dict))
    print(f"[audit] {summary}", file=err)
    for note in findings.notes:
        print(f"[audit] note: {note}", file=err)
    verdict = "OK: no discrepancy" if findings.ok else f"FAILED: {len(findings.discrepancies)} discrepancy(ies)"
    print(f"[audit] {verdict}", file=err)
    return 0 if findings.ok else 1
