"""The closing report of a render: every problem, then what was written and checked."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from sre.render.problems import CHECKS, Problem

# Output kinds, by path prefix (first match wins), in table order.
KINDS = (
    ("dashboards/", "dashboard JSON"),
    ("rules/", "rule files"),
    ("kubernetes/prometheusrule-", "PrometheusRule"),
    ("kubernetes/configmap-", "dashboard ConfigMap"),
    ("kubernetes/kustomization", "kustomization"),
    ("kubernetes/servicemonitor-", "ServiceMonitor"),
    ("kubernetes/podmonitor-", "PodMonitor"),
    ("kubernetes/kube-prometheus-stack-values", "Helm values"),
    ("alertmanager/", "Alertmanager config"),
    ("prometheus/", "Prometheus config"),
    ("", "other"),
)


def problem_list(problems: Sequence[Problem]) -> str:
    """Every problem, grouped by check in summary-table order, one per line."""
    order = list(CHECKS)
    lines = []
    for problem in sorted(problems, key=lambda p: (order.index(p.check), p.where, p.message)):
        lines.append(f"  ✗ {problem}")
    return "\n".join([f"{_n(len(problems), 'problem')}:", *lines])


def _n(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def _table(rows: Sequence[Sequence[str]], right: Sequence[int] = ()) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append(("  " + "  ".join(cells)).rstrip())
    return lines


def summary(
    out_dir: str,
    files: Mapping[str, str],
    problems: Sequence[Problem],
    *,
    skipped: Mapping[str, str],
    counts: Mapping[str, int],
) -> str:
    """What was written (count and bytes per kind) and each check's result."""
    written: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    for path, text in files.items():
        kind = next(label for prefix, label in KINDS if path.startswith(prefix))
        written[kind] += 1
        sizes[kind] += len(text.encode())
    rows = [["written", "files", "bytes"]]
    rows += [[k, str(written[k]), f"{sizes[k]:,}"] for _, k in KINDS if written[k]]
    rows.append(["total", str(sum(written.values())), f"{sum(sizes.values()):,}"])
    lines = [f"Written to {out_dir}/", *_table(rows, right=(1, 2)), ""]

    n = {key: counts.get(key, 0) for key in ("dashboards", "panels", "queries", "groups")}
    n |= {key: counts.get(key, 0) for key in ("alerts", "records")}
    lines.append(
        f"Checked {_n(n['dashboards'], 'dashboard')} ({_n(n['panels'], 'panel')}, "
        f"{_n(n['queries'], 'query', 'queries')}) and {_n(n['groups'], 'rule group')} "
        f"({_n(n['alerts'], 'alert')}, {_n(n['records'], 'recording rule')})"
    )
    failed = Counter(p.check for p in problems)
    rows = [["check", "result", "what it makes sure of"]]
    for check, what in CHECKS.items():
        if failed[check]:
            result = f"FAIL ({failed[check]})"
        elif check in skipped:
            result = f"skipped ({skipped[check]})"
        else:
            result = "pass"
        rows.append([check, result, what])
    lines += _table(rows)
    lines.append("")
    if problems:
        lines.append(
            f"FAILED: {_n(len(problems), 'problem')} in {_n(len(failed), 'check')} (listed above)"
        )
    elif skipped:
        lines.append(f"OK: all checks passed ({len(skipped)} skipped)")
    else:
        lines.append("OK: all checks passed")
    return "\n".join(lines)
