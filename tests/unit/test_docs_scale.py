"""docs/scale.md: its worked example of a config split by team loads as the page says, and
its error output is what the command prints."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from rules import all_groups
from sre.config import Duration, load_config
from sre.features.rollback.queries import batches
from sre.render.__main__ import main

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "scale.md").read_text(encoding="utf-8")
FILES = {
    m.group(1): m.group(0).split("\n", 1)[1]
    for m in re.finditer(r"(?<=```yaml\n)# file: (\S+)\n.*?(?=```)", PAGE, flags=re.DOTALL)
}


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return root / "sre.yaml"


def test_the_page_has_the_three_files() -> None:
    assert sorted(FILES) == ["services/payments.yaml", "services/search.yaml", "sre.yaml"]


def test_the_worked_example_loads_as_described(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, FILES))
    by_name = {s.name: s for s in cfg.services}
    assert list(by_name) == ["checkout", "ledger", "indexer", "query-api", "batch-export"]
    checkout, ledger = by_name["checkout"], by_name["ledger"]
    assert checkout.namespace == "payments" and by_name["indexer"].namespace == "search"
    assert checkout.slo is not None and checkout.slo.availability == Decimal("99.9")
    assert checkout.health is not None and checkout.health.interval == Duration.parse("30s")
    assert checkout.health.timeout == Duration.parse("2s")
    assert checkout.rollback is not None and checkout.rollback.for_ == Duration.parse("5m")
    assert checkout.rollback.error_rate_above == 0.05
    assert ledger.slo is not None and ledger.slo.availability == Decimal("99.9")
    assert ledger.slo.latency_p95_seconds == 0.3
    assert ledger.health is not None and ledger.health.timeout == Duration.parse("1s")
    assert ledger.rollback is not None and ledger.rollback.target.kind == "helm"
    assert ledger.rollback.for_ == Duration.parse("2m")
    indexer = by_name["indexer"]
    assert indexer.slo is not None and indexer.slo.availability == Decimal("99.5")
    assert indexer.health is None and indexer.rollback is None
    query = by_name["query-api"]
    assert query.rollback is not None and query.rollback.error_rate_above == 0.02
    assert by_name["batch-export"].slo is None
    # Two `for` values: two error-rate rules.
    fors = [
        (a.alert, a.labels["for"]) for g in all_groups(cfg) for a in g.alerts if "for" in a.labels
    ]
    assert sorted(fors) == [
        ("ServiceHighErrorRate", "2m"),
        ("ServiceHighErrorRate", "5m"),
        ("ServiceHighLatency", "2m"),
    ]


def test_the_error_output_is_what_the_command_prints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = dict(FILES)
    broken["sre.yaml"] = broken["sre.yaml"].replace("interval: 30s", "interval: 30x")
    broken["services/payments.yaml"] = broken["services/payments.yaml"].replace(
        "for: 5m ", "for: 5x "
    )
    _write(tmp_path, broken)
    monkeypatch.chdir(tmp_path)
    assert main(["--config", "sre.yaml", "--out", "build"]) == 2
    block = re.search(r"```text\n\$ python -m sre.render --config sre.yaml\n(.*?)```", PAGE, re.S)
    assert block is not None
    assert capsys.readouterr().err == block.group(1)


def test_the_batched_query_shown_is_what_a_cycle_of_the_example_asks(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, FILES))
    plan = batches(cfg, cfg.services)
    assert [(b.span, b.services) for b in plan] == [
        (360.0, ("checkout",)),
        (180.0, ("ledger", "query-api")),
    ]
    asked = [q for b in plan for q in (b.queries.traffic, b.queries.error_ratio) if q]
    assert len(asked) == 4 and all(b.queries.latency_p95 is None for b in plan)
    shown = [b.strip() for b in re.findall(r"```promql\n(.*?)```", PAGE, flags=re.S)]
    assert shown == [plan[1].queries.error_ratio]
