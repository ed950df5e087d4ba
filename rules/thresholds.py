"""Each configured service and its own numbers, as constant series that rules join on.

Instead of one rule per service (``vector(0.001)`` for each error budget, one alert per
service for its threshold), every per-service number is a recorded series per service,
written once here; the alerts and SLO rules then cover every service with one expression
(``ratio > on (service) threshold``).

The catalogue (``service:sre_service:info{service, namespace} 1``) is the one list of the
configured services: a ``vector(1)`` record per service. One expression could spell it too
(``label_replace(vector(1), ...) or ...``), but Prometheus 2.42 evaluates that tree about
four times slower than the records (``make bench BENCH=scale`` prints both: 127 ms against
31 ms for 500 services here). Each number is then one expression, ``value * catalogue`` for the
services that have it (``sre.promql.per_service``), whose size grows with the services that
differ from the most common value, not with the number of services.

These series are constants, so the rules of other groups that read them (at the value of
this group's last evaluation) see the same numbers whatever the order of evaluation.
"""

from __future__ import annotations

from sre import catalog
from sre.config import Config
from sre.model import Record, RuleGroup
from sre.promql import num, per_service, seconds

from .services import error_threshold, latency_threshold

FILE = "thresholds"


def records(cfg: Config) -> tuple[Record, ...]:
    names = [s.name for s in cfg.services]
    table = catalog.SERVICE_INFO

    def each(record: str, values: dict[str, str]) -> list[Record]:
        expr = per_service(table, names, values)
        return [] if expr is None else [Record(record, expr)]

    errors = {s.name: error_threshold(s) for s in cfg.services}
    latencies = {s.name: t for s in cfg.services if (t := latency_threshold(s)) is not None}
    slos = {s.name: s.slo for s in cfg.services if s.slo is not None}
    return (
        *(
            Record(table, "vector(1)", labels={"service": s.name, "namespace": s.namespace})
            for s in cfg.services
        ),
        *each(catalog.SLO_ERROR_BUDGET, {n: num(slo.error_budget) for n, slo in slos.items()}),
        *each(
            catalog.SLO_LATENCY_OBJECTIVE,
            {
                n: num(slo.latency_p95_seconds)
                for n, slo in slos.items()
                if slo.latency_p95_seconds is not None
            },
        ),
        *each(catalog.ERROR_RATIO_THRESHOLD, {n: num(t[0]) for n, t in errors.items()}),
        *each(catalog.MIN_REQUEST_RATE_THRESHOLD, {n: num(t[2]) for n, t in errors.items()}),
        *each(catalog.ERROR_RATIO_FOR, {n: seconds(t[1]) for n, t in errors.items()}),
        *each(catalog.LATENCY_THRESHOLD, {n: num(t[0]) for n, t in latencies.items()}),
        *each(catalog.LATENCY_FOR, {n: seconds(t[1]) for n, t in latencies.items()}),
    )


def groups(cfg: Config) -> list[RuleGroup]:
    return [RuleGroup(f"{cfg.system}.thresholds.recording", FILE, records(cfg))]
