"""Service alerts: down, probe failing, error rate and p95 latency above the SLA.

Thresholds are per service (``rollback`` where configured, else the SLO and the defaults in
``_common``). They are not spelled here: ``rules/thresholds.py`` records each as a series,
and one rule covers every service by joining on it (``ratio > on (service) threshold``).
Prometheus takes one ``for`` per rule, so the services are grouped by their ``for``: one
rule per distinct value, each carrying it as a ``for`` label (which also keeps promtool's
duplicate-rule lint apart). With every service on the default, that is one rule.
"""

from __future__ import annotations

from sre import catalog
from sre.config import Config, Service
from sre.config.durations import Duration
from sre.model import Alert, RuleGroup
from sre.promql import seconds, sel

from ._common import (
    DEFAULT_ERROR_RATIO,
    DEFAULT_FOR,
    DEFAULT_MIN_REQUEST_RATE,
    AlertFactory,
)

FILE = "services"


def error_threshold(service: Service) -> tuple[float, Duration, float]:
    """(ratio, for, minimum request rate) of the error-rate alert for ``service``."""
    rb = service.rollback
    if rb is None:
        return DEFAULT_ERROR_RATIO, DEFAULT_FOR, DEFAULT_MIN_REQUEST_RATE
    ratio = rb.error_rate_above if rb.error_rate_above is not None else DEFAULT_ERROR_RATIO
    return ratio, rb.for_, rb.min_request_rate


def latency_threshold(service: Service) -> tuple[float, Duration] | None:
    """(p95 seconds, for): the rollback SLA, else the SLO's latency; None if neither."""
    rb = service.rollback
    for_ = rb.for_ if rb is not None else DEFAULT_FOR
    if rb is not None and rb.latency_p95_above_seconds is not None:
        return rb.latency_p95_above_seconds, for_
    if service.slo is not None and service.slo.latency_p95_seconds is not None:
        return service.slo.latency_p95_seconds, for_
    return None


def probe_for(cfg: Config) -> Duration:
    """Three failed rounds of the slowest probe, and never less than a minute."""
    longest = max((p.interval for p in cfg.all_probes()), default=Duration.of(seconds=20))
    return max(Duration(longest.milliseconds * 3), Duration.of(minutes=1))


def down(cfg: Config, make: AlertFactory) -> Alert:
    up = f"up{sel(cfg.selectors.applications)}"
    known = catalog.SERVICE_INFO
    # Targets that are down answer up == 0; targets that are gone (scaled to zero, lost
    # from service discovery) leave no `up` at all: a configured service without one.
    return make(
        "ServiceDown",
        f"(\n  max by (service) ({up}) == 0\n  and on (service)\n  {known}\n)\n"
        f"or\n({known} unless on (service) {up})",
        severity="critical",
        summary="Every scrape target of a service is down",
        description=(
            "No target of {{ $labels.service }} has answered Prometheus' scrape "
            "for 2 minutes (or none is left): the service is down or unreachable."
        ),
        for_=Duration.of(minutes=2),
        dashboard="overview",
    )


def probe(cfg: Config, make: AlertFactory) -> Alert:
    return make(
        "ProbeFailing",
        f"sre_probe_success{sel(cfg.selectors.daemon)} == 0",
        severity="critical",
        summary="A health probe keeps failing",
        description=(
            "The SRE daemon's probe {{ $labels.target }} of {{ $labels.service }} has "
            f"failed for {probe_for(cfg)} in a row."
        ),
        for_=probe_for(cfg),
        dashboard="sre-daemon",
    )


def tls_expiry(cfg: Config, make: AlertFactory) -> Alert:
    within = cfg.thresholds.tls_cert_expiry_within
    return make(
        "ProbeTLSCertExpiringSoon",
        f"sre_probe_tls_cert_expiry_timestamp_seconds{sel(cfg.selectors.daemon)} - time()"
        f" < {seconds(within)}",
        severity="warning",
        summary="A probed TLS certificate expires soon",
        description=(
            "The certificate served to probe {{ $labels.target }} of {{ $labels.service }} "
            f"expires in {{{{ $value | humanizeDuration }}}} (warning at {within})."
        ),
        for_=Duration.of(minutes=10),
        dashboard="sre-daemon",
    )


def _by_for(durations: dict[str, Duration]) -> list[Duration]:
    return sorted(set(durations.values()))


def _threshold(record: str) -> str:
    """A template that shows the service's own threshold (read back from its series)."""
    return (
        f'{{{{ with printf "{record}{{service=%q}}" $labels.service | query }}}}'
        "{{ . | first | value }}{{ end }}"
    )


def error_rate(cfg: Config, make: AlertFactory) -> list[Alert]:
    durations = {s.name: error_threshold(s)[1] for s in cfg.services}
    out = []
    for for_ in _by_for(durations):
        expr = (
            f"(\n  {catalog.ERROR_RATIO}\n    > on (service) {catalog.ERROR_RATIO_THRESHOLD}\n"
            f"  and on (service)\n  {catalog.REQUEST_RATE}\n"
            f"    > on (service) {catalog.MIN_REQUEST_RATE_THRESHOLD}\n)\n"
            f"and on (service)\n{catalog.ERROR_RATIO_FOR} == {seconds(for_)}"
        )
        out.append(
            make(
                "ServiceHighErrorRate",
                expr,
                severity="critical",
                summary="A service answers too many requests with 5xx",
                description=(
                    "{{ $labels.service }} answered {{ $value | humanizePercentage }} of its "
                    "requests with 5xx over 5m (threshold "
                    f"{_threshold(catalog.ERROR_RATIO_THRESHOLD)}, for {for_})."
                ),
                for_=for_,
                dashboard="service-performance",
                labels={"for": str(for_)},
            )
        )
    return out


def latency(cfg: Config, make: AlertFactory) -> list[Alert]:
    durations = {s.name: t[1] for s in cfg.services if (t := latency_threshold(s)) is not None}
    out = []
    for for_ in _by_for(durations):
        expr = (
            f"{catalog.LATENCY_QUANTILES['p95']}\n  > on (service) {catalog.LATENCY_THRESHOLD}\n"
            f"and on (service)\n{catalog.LATENCY_FOR} == {seconds(for_)}"
        )
        out.append(
            make(
                "ServiceHighLatency",
                expr,
                severity="warning",
                summary="A service's p95 latency is above its SLA",
                description=(
                    "{{ $labels.service }} p95 latency is {{ $value | humanizeDuration }}, "
                    f"above its SLA of {_threshold(catalog.LATENCY_THRESHOLD)}s for {for_}."
                ),
                for_=for_,
                dashboard="service-performance",
                labels={"for": str(for_)},
            )
        )
    return out


def groups(cfg: Config) -> list[RuleGroup]:
    make = AlertFactory(cfg)
    rules = [down(cfg, make), *error_rate(cfg, make), *latency(cfg, make)]
    if cfg.all_probes():
        rules[1:1] = [probe(cfg, make), tls_expiry(cfg, make)]
    return [RuleGroup(f"{cfg.system}.services.alerts", FILE, tuple(rules))]
