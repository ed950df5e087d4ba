"""The one place PromQL is spelled: selectors, numbers, and the service expressions that the
recording rules, the SLO rules, the dashboards and the rollback trigger all share.

Pure text in, text out. Two families:

* **building blocks** - :func:`sel` joins label matchers, :func:`one_of` matches a set of
  values, :func:`num` writes a number exactly, :func:`duration` writes a PromQL duration;
* **service expressions** - :func:`request_rate`, :func:`error_ratio` and
  :func:`latency_quantile` over ``http_requests_total`` / ``http_request_duration_seconds``.
  The recording rules call them with a 5m window grouped ``by (service)``; the rollback
  trigger calls the *same* functions with its own rate window and one service's selector,
  so the error-rate alert and the trigger cannot drift apart (a promtool test checks that
  they agree on the same series).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

from sre import catalog
from sre.config.durations import Duration

SERVER_ERROR = 'code=~"5.."'
AUTH_FAILURE = 'code=~"401|403"'
_REGEX_META = set(".+*?()[]{}|^$\\")


# ----------------------------------------------------------------------------- building blocks


def sel(*matchers: str) -> str:
    """Join label matchers into ``{a, b}``; empty ones (an unset selector) drop out."""
    parts = [m.strip() for m in matchers if m and m.strip()]
    return "{" + ", ".join(parts) + "}" if parts else ""


def matchers(*parts: str) -> str:
    """Label matchers joined without braces (``a, b``), to pass on as one selector."""
    return ", ".join(m.strip() for m in parts if m and m.strip())


def metric(name: str, *matchers: str) -> str:
    """``name{matchers}``."""
    return name + sel(*matchers)


def _alternation(values: Iterable[str]) -> list[str]:
    """Sorted, de-duplicated values, regex-escaped for a PromQL string (backslash doubled)."""
    names = sorted(set(values))
    if not names:
        raise ValueError("no values to match")
    return ["".join(f"\\\\{c}" if c in _REGEX_META else c for c in n) for n in names]


def one_of(label: str, values: Iterable[str]) -> str:
    """``label="x"`` for one value, ``label=~"x|y"`` for several (sorted, regex-escaped)."""
    names = sorted(set(values))
    if len(names) == 1:
        return f'{label}="{names[0]}"'
    return f'{label}=~"{"|".join(_alternation(names))}"'


def regex_of(values: Iterable[str]) -> str:
    """A regex matching any of ``values`` literally: ``x`` or ``(x|y)``."""
    escaped = _alternation(values)
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def num(value: float | int | Decimal) -> str:
    """A number as PromQL text, exactly: 0.05 -> ``0.05``, 600.0 -> ``600``, no float noise."""
    dec = value if isinstance(value, Decimal) else Decimal(repr(value))
    return format(dec.normalize(), "f")


def seconds(value: Duration) -> str:
    """A duration as a number of seconds (for comparisons with ``time()``)."""
    return num(Decimal(value.milliseconds) / 1000)


def duration(value: float | Duration) -> str:
    """A PromQL range: 60 -> ``60s``, 2.5 -> ``2500ms``; a :class:`Duration` as it was written
    canonically (``5m``)."""
    if isinstance(value, Duration):
        return str(value)
    ms = round(value * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def ratio(by: str, bad: str, total: str) -> str:
    """``sum by (x) (bad) / sum by (x) (total)``, 0 where ``bad`` has no series at all.

    ``or 0 * total``: a service that never answered a 5xx has no error series; its ratio is
    0, not "no data" (which a dashboard, a budget or a rollback trigger would misread).
    """
    return (
        f"(\n  sum by ({by}) ({bad})\n  or\n  0 * sum by ({by}) ({total})\n)\n"
        f"/\nsum by ({by}) ({total})"
    )


# ----------------------------------------------------------------------------- services


def requests(selector: str, window: str, *extra: str) -> str:
    """Per-series request rate: ``rate(http_requests_total{...}[window])``."""
    return f"rate({catalog.HTTP_REQUESTS}{sel(selector, *extra)}[{window}])"


def request_rate(selector: str, window: str, by: str = "service") -> str:
    """Requests per second, summed ``by``."""
    return f"sum by ({by}) ({requests(selector, window)})"


def error_ratio(selector: str, window: str, by: str = "service", bad: str = SERVER_ERROR) -> str:
    """Share of requests answered with ``bad`` (5xx by default), ``by`` service."""
    return ratio(by, requests(selector, window, bad), requests(selector, window))


def latency_quantile(quantile: str, selector: str, window: str, by: str = "service") -> str:
    """``histogram_quantile`` of request duration over ``window``, ``by`` service."""
    buckets = f"rate({catalog.HTTP_DURATION_BUCKET}{sel(selector)}[{window}])"
    group = f"{by}, le" if by else "le"
    return f"histogram_quantile({quantile}, sum by ({group}) ({buckets}))"


# ----------------------------------------------------------------------------- per service
# A rule that covers every service needs each service's own number (its error budget, its
# alert threshold) as a series to join on. They come from one "catalogue" series per
# configured service (rules/thresholds.py); each number is then one expression over it whose
# size depends on how many services differ from the most common value, not on how many
# services there are.


def none_of(label: str, values: Iterable[str]) -> str:
    """``label!="x"`` for one value, ``label!~"x|y"`` for several (sorted, regex-escaped)."""
    names = sorted(set(values))
    if len(names) == 1:
        return f'{label}!="{names[0]}"'
    return f'{label}!~"{"|".join(_alternation(names))}"'


def either(terms: Sequence[str]) -> str:
    """``a or b or c`` as a balanced tree of parenthesised pairs.

    Prometheus evaluates each ``or`` in time linear in its left side, so a flat chain of n
    terms costs about n^2/2; a balanced tree costs n log n.
    """
    if not terms:
        raise ValueError("no terms")
    if len(terms) == 1:
        return terms[0]
    mid = len(terms) // 2
    return f"({either(terms[:mid])}\nor {either(terms[mid:])})"


def per_service(table: str, services: Iterable[str], values: Mapping[str, str]) -> str | None:
    """One series per service in ``values`` (name -> number text): ``value * table``.

    ``table`` is the catalogue series (one per name in ``services``). One class of services
    is selected by a negative matcher (``service!~"the others"``), the others by name: the
    class is the one that leaves the fewest names to spell, so a config where most services
    share a default stays short whatever its size. ``None`` when ``values`` is empty.
    """
    if not values:
        return None
    everyone = set(services)
    classes: dict[str, list[str]] = defaultdict(list)
    for name, value in values.items():
        classes[value].append(name)
    ordered = sorted(classes, key=lambda v: (-len(classes[v]), v))
    # Names spelled: with the largest class implicit, everyone outside it plus the other
    # classes again (N - c + V - c); without, every service with a value (V).
    implicit = ordered[0] if 2 * len(classes[ordered[0]]) > len(everyone) else None
    terms = []
    for value in ordered:
        if value == implicit:
            rest = everyone - set(classes[value])
            terms.append(f"{value} * {metric(table, none_of('service', rest)) if rest else table}")
        else:
            terms.append(f"{value} * {metric(table, one_of('service', classes[value]))}")
    return either(terms)
