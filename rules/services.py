"""Service alerts: down, probe failing, error rate and p95 latency above the SLA.

Thresholds are per service (``rollback`` where configured, else the SLO and the defaults in
``_common``), so each service gets its own rule, told apart by a static ``service`` label
(equal to the series' own, so it changes nothing but keeps promtool's duplicate lint happy).
"""

from __future__ import annotations

from sre import catalog
from sre.config import Config, Service
from sre.config.durations import Duration
from sre.model import Alert, RuleGroup
from sre.promql import num, one_of, seconds, sel

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
    names = one_of("service", [s.name for s in cfg.services])
    # Targets that are down answer up == 0; targets that are gone (scaled to zero, lost
    # from service discovery) leave no `up` at all, so each configured service also gets
    # an absent() clause.
    gone = "".join(
        "\nor absent(up" + sel(cfg.selectors.applications, f'service="{s.name}"') + ")"
        for s in cfg.services
    )
    return make(
        "ServiceDown",
        f"max by (service) (up{sel(cfg.selectors.applications, names)}) == 0{gone}",
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


def error_rate(cfg: Config, make: AlertFactory) -> list[Alert]:
    out = []
    for service in cfg.services:
        ratio, for_, min_rate = error_threshold(service)
        only = f'{{service="{service.name}"}}'
        expr = (
            f"{catalog.ERROR_RATIO}{only} > {num(ratio)}\n"
            f"and on (service)\n{catalog.REQUEST_RATE}{only} > {num(min_rate)}"
        )
        out.append(
            make(
                "ServiceHighErrorRate",
                expr,
                severity="critical",
                summary="A service answers too many requests with 5xx",
                description=(
                    "{{ $labels.service }} answered {{ $value | humanizePercentage }} of its "
                    f"requests with 5xx over 5m (threshold {num(ratio)}, for {for_})."
                ),
                for_=for_,
                dashboard="service-performance",
                labels={"service": service.name},
            )
        )
    return out


def latency(cfg: Config, make: AlertFactory) -> list[Alert]:
    out = []
    for service in cfg.services:
        threshold = latency_threshold(service)
        if threshold is None:
            continue
        sla, for_ = threshold
        out.append(
            make(
                "ServiceHighLatency",
                f'{catalog.LATENCY_QUANTILES["p95"]}{{service="{service.name}"}} > {num(sla)}',
                severity="warning",
                summary="A service's p95 latency is above its SLA",
                description=(
                    "{{ $labels.service }} p95 latency is {{ $value | humanizeDuration }}, "
                    f"above its SLA of {num(sla)}s for {for_}."
                ),
                for_=for_,
                dashboard="service-performance",
                labels={"service": service.name},
            )
        )
    return out


def groups(cfg: Config) -> list[RuleGroup]:
    make = AlertFactory(cfg)
    rules = [down(cfg, make), *error_rate(cfg, make), *latency(cfg, make)]
    if cfg.all_probes():
        rules[1:1] = [probe(cfg, make), tls_expiry(cfg, make)]
    return [RuleGroup(f"{cfg.system}.services.alerts", FILE, tuple(rules))]
