"""The benchmarks are not run by the tests (their numbers are printed, never asserted), but they must not rot:
each imports cleanly and answers --help, and the read-model benchmark's smoke run (--quick) goes through."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"
# a name beginning with "_" is a module the benchmarks share, not a benchmark (bench/_store_statements.py)
SCRIPTS = sorted(p for p in BENCH.glob("*.py") if not p.name.startswith("_"))
SHARED = sorted(p for p in BENCH.glob("_*.py"))


def test_there_are_benchmarks():
    assert {p.name for p in SCRIPTS} >= {"intake_submit.py", "scoring_round.py", "certification_issue.py",
                                         "notify_deliver.py", "read_models.py", "event_store.py"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_benchmark_imports_and_explains_itself(script: Path):
    spec = importlib.util.spec_from_file_location(f"bench_{script.stem}", script)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # as an import would: a dataclass of the module looks its module up there
    spec.loader.exec_module(module)
    assert callable(module.main)
    result = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


@pytest.mark.parametrize("module", SHARED, ids=lambda p: p.name)
def test_a_module_the_benchmarks_share_imports_cleanly(module: Path):
    spec = importlib.util.spec_from_file_location(f"bench_{module.stem}", module)
    assert spec and spec.loader
    loaded = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = loaded
    spec.loader.exec_module(loaded)
    assert loaded.__doc__, f"{module.name}: say what it is for"


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_read_model_benchmark_runs_on_the_real_services(infra):
    """Every page it promises is measured through the real apps at N = 1,000 (the numbers are not judged)."""
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": infra.kafka, "MONGODB_URL": infra.mongodb}
    result = subprocess.run([sys.executable, str(BENCH / "read_models.py"), "--quick"], capture_output=True,
                            text=True, timeout=580, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    measured = {(line["bench"], line.get("variant")) for line in lines if "p50_ms" in line}
    assert measured == {("registry", None), ("registry", "province"), ("registry", "stars"), ("registry", "year"),
                        ("registry", "province+stars"), ("registry", "province+year"), ("registry", "stars+year"),
                        ("registry", "province+stars+year"), ("registry_next", None), ("registry_next", "deep"),
                        ("verify", None), ("dossiers_by_round", None), ("dossiers_by_round_next", None),
                        ("raw_find_one_id", None), ("raw_find_indexed_limit20", None),
                        ("displays_of_a_page", "filed by certificate"),
                        ("displays_of_a_page", "before: $in over displays")}
    assert all(line["n"] == 1000 and line["samples"] >= 10 for line in lines if "p50_ms" in line)
