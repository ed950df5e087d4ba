"""sre.clients.promtool against the real promtool (Debian's prometheus package)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sre.clients import ClientError, promtool
from tests.helpers import find_binary
from tests.helpers.versions import BinarySet

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("prometheus_versions")]


@pytest.fixture(scope="module", autouse=True)
def _promtool() -> None:
    find_binary("promtool")  # fails loudly (not a skip) when it is missing


# promtool's own words for a bad duration changed in Prometheus 3.
BAD_DURATION = {
    2: "1:8: parse error: missing unit character in duration",
    3: "1:8: parse error: unexpected character in duration expression: '$'",
}


def test_expressions_map_errors_back_to_their_index(prometheus_versions: BinarySet) -> None:
    errors = promtool.check_expressions(
        ["sum(rate(x[5m]))", "sum(rate(x[5m])", 'up{a="b"', "topk(5, up)", "rate(x[$typo])"]
    )
    assert sorted(errors) == [1, 2, 4]
    assert errors[1] == "1:16: parse error: unclosed left parenthesis"
    assert "unexpected end of input inside braces" in errors[2]
    assert errors[4] == BAD_DURATION[prometheus_versions.prometheus_major]


def test_expressions_all_valid_and_empty() -> None:
    assert promtool.check_expressions(["up", "rate(x[1m]) > 0"]) == {}
    assert promtool.check_expressions([]) == {}


def test_check_rules_reports_file_and_rule(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("groups:\n- name: g\n  rules:\n  - record: a:b:c\n    expr: up\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "groups:\n- name: g\n  rules:\n  - alert: Foo\n    expr: up ==\n"
        "  - alert: Bar\n    expr: up\n    labels: {severity: x}\n"
        "    annotations: {summary: '{{ .Broken'}\n"
    )
    assert promtool.check_rules([good]) == []
    findings = promtool.check_rules([good, bad])
    assert {f.file for f in findings} == {str(bad)}
    messages = " | ".join(f.message for f in findings)
    assert '"Foo": could not parse expression' in messages
    assert '"Bar"' in messages and "template" in messages


def test_missing_binary_is_a_client_error_saying_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ClientError) as caught:
        promtool.check_expressions(["up"], binary=str(tmp_path / "no-promtool"))
    assert caught.value.reason == "missing"
    assert not caught.value.retryable
    assert "not found on PATH" in str(caught.value)
    assert "--skip-promtool" in str(caught.value)
