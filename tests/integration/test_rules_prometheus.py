"""The rules of a generated 30-service config in a real Prometheus scraping a synthetic
platform (each service its own target): the joined per-service series exist for every
service, evaluation never fails, and one erroring service is the only one alerting."""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.scale import generate, platform
from sre.config import load_config


def _values(p: platform.Platform, expr: str) -> dict[str, float]:
    return {r["metric"].get("service", ""): float(r["value"][1]) for r in p.query(expr)}


def test_rules_cover_every_service_in_a_real_prometheus(tmp_path: Path) -> None:
    cfg = load_config(generate.write(tmp_path / "cfg", 30, applications=platform.SELECTOR))
    names = {s.name for s in cfg.services}
    # rate()[5m] over a few seconds of data reads low; 50 req/s clears the 0.1 req/s minimum
    # of the error-rate alert at once.
    with platform.platform(tmp_path, cfg, interval="1s", rps=50) as p:
        p.synthetic.set("svc-0003", error_ratio=0.5)
        # Until every target has been scraped twice (rate() needs two samples) and the
        # groups have evaluated since.
        deadline = time.monotonic() + 90
        while len(_values(p, "service:http_requests:rate5m")) < len(names):
            assert time.monotonic() < deadline, "the synthetic services were not scraped"
            time.sleep(0.5)
        p.wait_for_evaluations(3, timeout=60)
        assert set(_values(p, "service:sre_service:info")) == names
        assert set(_values(p, "service:alert_threshold:error_ratio")) == names
        with_slo = {s.name for s in cfg.services if s.slo is not None}
        assert set(_values(p, "service:sli_errors:ratio_rate5m")) == with_slo
        budgets = _values(p, "service:slo_error_budget:ratio")
        assert budgets == {
            s.name: float(s.slo.error_budget) for s in cfg.services if s.slo is not None
        }
        alerting = p.query('ALERTS{alertname="ServiceHighErrorRate"}')
        assert [(a["metric"]["service"], a["metric"]["for"]) for a in alerting] == [
            ("svc-0003", "2m")
        ]
        assert p.own_total("prometheus_rule_evaluations_total") > 0
        assert p.own_total("prometheus_rule_evaluation_failures_total") == 0
        assert all(g.rules > 0 for g in p.rule_groups())
