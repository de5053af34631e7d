"""The alert rules ops get (infra/prometheus/alerts.yml, ADR 0040): promtool accepts them and fires each on a
synthetic series (alerts.test.yml); every alert has a test that fires it and says what ops should do; every metric
they watch is one the services expose."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

import binhchon_kit.metrics  # noqa: F401  # registers the services' metrics
from binhchon_kit.testing.infra import REPO

RULES = REPO / "infra" / "prometheus"
CHECK = RULES / "check.sh"


def promtool() -> Path:
    """promtool on PATH, else where `make alerts-check` unpacks it; missing: the test fails saying how to get it."""
    found = shutil.which("promtool")
    if found:
        return Path(found)
    home_cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    cache = os.environ.get("BINHCHON_CACHE") or home_cache / "binhchon"
    cached = Path(cache) / "prometheus" / "usr" / "bin" / "promtool"  # as check.sh unpacks it
    if cached.exists():
        return cached
    pytest.fail("no promtool: run `make alerts-check` (it unpacks promtool from Debian's prometheus package into "
                "~/.cache/binhchon), or `apt-get install prometheus`", pytrace=False)


def run(*args: str) -> str:
    done = subprocess.run([str(promtool()), *args], cwd=RULES, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def alerts() -> list[dict]:
    return [rule for group in yaml.safe_load((RULES / "alerts.yml").read_text())["groups"] for rule in group["rules"]]


def test_promtool_accepts_the_rules_and_fires_each_alert_on_its_synthetic_series():
    assert "SUCCESS: 7 rules found" in run("check", "rules", "alerts.yml")
    assert "SUCCESS" in run("test", "rules", "alerts.test.yml")
    run("check", "config", "prometheus.yml")


def test_every_alert_is_fired_by_a_test_and_tells_ops_what_to_do():
    tests = yaml.safe_load((RULES / "alerts.test.yml").read_text())["tests"]
    fired = {check["alertname"] for test in tests for check in test["alert_rule_test"] if check["exp_alerts"]}
    names = [rule["alert"] for rule in alerts()]
    assert sorted(fired) == sorted(names)
    for rule in alerts():
        assert rule["annotations"]["summary"] and len(rule["annotations"]["description"]) > 100, rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]


def test_the_alerts_watch_metrics_the_services_expose():
    exposed = {sample.name for metric in REGISTRY.collect() for sample in metric.samples}
    exposed |= {metric.name for metric in REGISTRY.collect()}
    watched = {name for rule in alerts() for name in re.findall(r"\bbinhchon_\w+", rule["expr"])}
    # a labelled metric has no sample until its first labels: its family's name, and a counter's _total
    families = {m.name for m in REGISTRY.collect()} | {f"{m.name}_total" for m in REGISTRY.collect()
                                                      if m.type == "counter"}
    assert watched and watched <= (exposed | families), watched - (exposed | families)
    assert {"binhchon_consumer_lag_messages", "binhchon_dead_letters_total", "binhchon_outbox_oldest_age_seconds",
            "binhchon_dependency_ready"} <= watched
