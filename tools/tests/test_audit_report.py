"""What binhchon-audit prints (pure: no server): the table names each discrepancy with its event ids, the JSON
carries the same, the summary goes to stderr, and the exit status says whether anything is wrong."""

from __future__ import annotations

import io
import json

from binhchon_tools.audit_findings import Findings
from binhchon_tools.audit_report import report


def test_table_json_and_exit_status():
    findings = Findings(counts={"events": 1234, "streams": 56, "per_topic": {"intake.events": 1234}})
    out, err = io.StringIO(), io.StringIO()
    assert report(findings, as_json=False, out=out, err=err) == 0
    assert out.getvalue() == ""
    assert "events 1,234, streams 56" in err.getvalue() and "OK: no discrepancy" in err.getvalue()

    findings.add("hash", "scoring-abc", "content does not match its hash at t/0@7", "ev-1")
    findings.add("certificate", "OCOP-UBNDTBG-2026-00001", "2 certificates for a recognised result (one "
                 "expected)", "ev-2", "ev-3")
    out, err = io.StringIO(), io.StringIO()
    assert report(findings, as_json=False, out=out, err=err) == 1
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["check", "subject", "event", "ids", "discrepancy"]
    assert "scoring-abc" in lines[2] and "ev-1" in lines[2] and "content does not match" in lines[2]
    assert "ev-2, ev-3" in lines[3]
    assert "FAILED: 2 discrepancy(ies)" in err.getvalue()

    out = io.StringIO()
    assert report(findings, as_json=True, out=out, err=io.StringIO()) == 1
    parsed = json.loads(out.getvalue())
    assert parsed["ok"] is False and parsed["summary"]["per_topic"] == {"intake.events": 1234}
    assert [d["event_ids"] for d in parsed["discrepancies"]] == [["ev-1"], ["ev-2", "ev-3"]]

